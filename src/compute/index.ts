// `tricircle compute`: the Nova v2.1 and Glance v2 subsets that boot servers the way Nova
// does against the region's Neutron, without a hypervisor (docs/compute.md).
export { createComputeApi, type ComputeApiOptions } from './app.js';
export { CIRROS_IMAGE_ID, FLAVORS, IMAGES } from './catalog.js';
export { MAX_MINOR, MIN_MINOR } from './microversion.js';
