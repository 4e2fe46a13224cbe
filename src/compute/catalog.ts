// The static flavors and images the compute service offers. Nothing runs a hypervisor, so
// these only have to name what clients pass in flavorRef and imageRef.

export interface Flavor {
  id: string;
  name: string;
  ram: number;
  vcpus: number;
  disk: number;
}

export const FLAVORS: readonly Flavor[] = [
  { id: '1', name: 'm1.tiny', ram: 512, vcpus: 1, disk: 1 },
  { id: '2', name: 'm1.small', ram: 2048, vcpus: 1, disk: 20 },
  { id: '3', name: 'm1.medium', ram: 4096, vcpus: 2, disk: 40 },
  { id: '4', name: 'm1.large', ram: 8192, vcpus: 4, disk: 80 },
  { id: '5', name: 'm1.xlarge', ram: 16384, vcpus: 8, disk: 160 },
];

export interface Image {
  id: string;
  name: string;
  size: number;
  minDisk: number;
  minRam: number;
  created: string;
}

/** The cirros image under a fixed id, so tests and scripts can name it without a lookup. */
export const CIRROS_IMAGE_ID = '5c3b8a9e-1f0d-4b6a-9c2e-7d4f1a2b3c4d';

export const IMAGES: readonly Image[] = [
  { id: CIRROS_IMAGE_ID, name: 'cirros-0.6.2-x86_64-disk', size: 21430272, minDisk: 0, minRam: 0, created: '2024-01-01T00:00:00Z' },
];

export const findFlavor = (id: string) => FLAVORS.find((f) => f.id === id);
export const findImage = (id: string) => IMAGES.find((i) => i.id === id);

const link = (base: string, path: string) => [
  { rel: 'self', href: `${base}/v2.1/${path}` },
  { rel: 'bookmark', href: `${base}/${path}` },
];

export const flavorRef = (base: string, flavor: Flavor) => ({ id: flavor.id, links: link(base, `flavors/${flavor.id}`).slice(1) });
export const imageRef = (base: string, image: Image) => ({ id: image.id, links: link(base, `images/${image.id}`).slice(1) });

/** A flavor as Nova's flavors API shows it (`detail` false: the short form of GET /flavors). */
export function renderFlavor(base: string, flavor: Flavor, detail: boolean) {
  const summary = { id: flavor.id, name: flavor.name, links: link(base, `flavors/${flavor.id}`) };
  if (!detail) return summary;
  return {
    ...summary,
    ram: flavor.ram,
    vcpus: flavor.vcpus,
    disk: flavor.disk,
    'OS-FLV-EXT-DATA:ephemeral': 0,
    swap: '',
    rxtx_factor: 1.0,
    'OS-FLV-DISABLED:disabled': false,
    'os-flavor-access:is_public': true,
  };
}

/** A flavor embedded in a server, as microversion 2.47 and later show it. */
export const embeddedFlavor = (flavor: Flavor) => ({
  vcpus: flavor.vcpus,
  ram: flavor.ram,
  disk: flavor.disk,
  ephemeral: 0,
  swap: 0,
  original_name: flavor.name,
  extra_specs: {},
});

/** An image as Nova's image proxy (/v2.1/images) shows it. */
export function renderNovaImage(base: string, image: Image, detail: boolean) {
  const summary = { id: image.id, name: image.name, links: link(base, `images/${image.id}`) };
  if (!detail) return summary;
  return {
    ...summary,
    status: 'ACTIVE',
    progress: 100,
    minDisk: image.minDisk,
    minRam: image.minRam,
    created: image.created,
    updated: image.created,
    metadata: {},
    'OS-EXT-IMG-SIZE:size': image.size,
  };
}

/** An image as Glance v2 shows it. */
export function renderGlanceImage(prefix: string, image: Image) {
  return {
    id: image.id,
    name: image.name,
    status: 'active',
    visibility: 'public',
    protected: false,
    os_hidden: false,
    disk_format: 'qcow2',
    container_format: 'bare',
    size: image.size,
    virtual_size: null,
    checksum: null,
    os_hash_algo: null,
    os_hash_value: null,
    min_disk: image.minDisk,
    min_ram: image.minRam,
    owner: null,
    tags: [],
    created_at: image.created,
    updated_at: image.created,
    self: `${prefix}/v2/images/${image.id}`,
    file: `${prefix}/v2/images/${image.id}/file`,
    schema: `${prefix}/v2/schemas/image`,
  };
}
