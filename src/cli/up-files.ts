import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';

// The client files `tricircle up` leaves in its data directory, so that the openstack client
// (and anything using openstacksdk or the OS_* variables) reaches the cloud as admin or demo.

export interface CloudUser {
  /** The user's name, which is also its project's name (admin, demo). */
  name: string;
  password: string;
}

export interface CloudFiles {
  /** The identity service's v3 URL. */
  authUrl: string;
  /** The region clients use by default (the central one). */
  region: string;
  /** Every region, for clouds.yaml: openstacksdk refuses an --os-region-name its cloud does not list. */
  regions: string[];
  users: CloudUser[];
}

/** clouds.yaml: a cloud `tricircle-<user>` per user. */
export function cloudsYaml({ authUrl, region, regions, users }: CloudFiles): string {
  const clouds = Object.fromEntries(
    users.map((user) => [
      `tricircle-${user.name}`,
      {
        auth: {
          auth_url: authUrl,
          username: user.name,
          password: user.password,
          project_name: user.name,
          user_domain_name: 'Default',
          project_domain_name: 'Default',
        },
        region_name: region,
        regions: [region, ...regions.filter((r) => r !== region)],
        interface: 'public',
        identity_api_version: 3,
      },
    ]),
  );
  return stringify({ clouds });
}

/** A value for a POSIX shell, single-quoted. */
const shellQuote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;

/** The OS_* variables of one user, for `source`. */
export function openrc({ authUrl, region }: CloudFiles, user: CloudUser): string {
  const variables = {
    OS_AUTH_URL: authUrl,
    OS_USERNAME: user.name,
    OS_PASSWORD: user.password,
    OS_PROJECT_NAME: user.name,
    OS_USER_DOMAIN_NAME: 'Default',
    OS_PROJECT_DOMAIN_NAME: 'Default',
    OS_REGION_NAME: region,
    OS_IDENTITY_API_VERSION: '3',
    OS_INTERFACE: 'public',
  };
  const lines = Object.entries(variables).map(([name, value]) => `export ${name}=${shellQuote(value)}`);
  return `# ${user.name} on the Tricircle all-in-one (tricircle up); source this file.\n${lines.join('\n')}\n`;
}

/** Writes clouds.yaml and <user>-openrc.sh into `dir` (only the owner may read them: they hold passwords); returns their paths. */
export function writeCloudFiles(dir: string, files: CloudFiles): string[] {
  const written: Array<[string, string]> = [
    [join(dir, 'clouds.yaml'), cloudsYaml(files)],
    ...files.users.map((user): [string, string] => [join(dir, `${user.name}-openrc.sh`), openrc(files, user)]),
  ];
  for (const [path, text] of written) writeFileSync(path, text, { mode: 0o600 });
  return written.map(([path]) => path);
}
