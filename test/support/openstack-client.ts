import { existsSync } from 'node:fs';

/** Debian's `openstack` command (python3-openstackclient). */
export const OPENSTACK = '/usr/bin/openstack';

/**
 * Why the openstack-client tests are skipped here (the command is missing), or undefined when
 * they run. With TRICIRCLE_TEST_REQUIRE_OPENSTACK_CLIENT=1 (CI) a missing command is an error.
 */
export function openstackClientMissing(): string | undefined {
  const missing = existsSync(OPENSTACK) ? undefined : `${OPENSTACK} is not installed (apt-get install -y python3-openstackclient)`;
  if (missing && process.env.TRICIRCLE_TEST_REQUIRE_OPENSTACK_CLIENT === '1') throw new Error(missing);
  return missing;
}
