// A small Neutron v2.0 client for benchmark set-up, seeding and clean-up (the measured requests
// go through the load generator instead). Works against our `tricircle neutron-server` and any
// other Neutron endpoint: the base URL may carry a path prefix, a token goes in X-Auth-Token.

/** A failed Neutron call: its status and Neutron's error, if it sent one. */
export class NeutronCallError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    what: string,
  ) {
    super(`${what}: ${status} ${body.slice(0, 500)}`);
  }
}

/** `http://host:9696/`, `.../v2.0` or `.../v2.0/` -> `http://host:9696` (the part before /v2.0). */
export function neutronBase(url: string): string {
  const parsed = new URL(url);
  parsed.pathname = parsed.pathname.replace(/\/+$/, '').replace(/\/v2\.0$/, '');
  parsed.search = '';
  return parsed.toString().replace(/\/+$/, '');
}

export interface IdRecord {
  id: string;
  [field: string]: any;
}

export class NeutronClient {
  /** Headers every request sends (the token, when there is one). */
  readonly headers: Record<string, string>;

  constructor(
    /** The endpoint without /v2.0. */
    readonly baseUrl: string,
    token?: string,
  ) {
    this.headers = { accept: 'application/json', ...(token ? { 'x-auth-token': token } : {}) };
  }

  /** One call; answers the parsed JSON body (undefined for 204), throws NeutronCallError on any other status than `expect`. */
  async call(method: string, path: string, body?: unknown, expect: number[] = [200, 201, 204]): Promise<any> {
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: body === undefined ? this.headers : { ...this.headers, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(600_000),
    });
    const text = await response.text();
    if (!expect.includes(response.status)) throw new NeutronCallError(response.status, text, `${method} ${path}`);
    return text ? JSON.parse(text) : undefined;
  }

  async createNetwork(name: string): Promise<IdRecord> {
    return (await this.call('POST', '/v2.0/networks', { network: { name } }, [201])).network;
  }

  async createSubnet(networkId: string, cidr: string, name: string): Promise<IdRecord> {
    return (await this.call('POST', '/v2.0/subnets', { subnet: { network_id: networkId, cidr, ip_version: 4, name } }, [201])).subnet;
  }

  /** One bulk create of `count` ports on a network (`POST /v2.0/ports` with {"ports": [...]}). */
  async createPorts(networkId: string, count: number): Promise<IdRecord[]> {
    const ports = Array.from({ length: count }, () => ({ network_id: networkId }));
    const created = (await this.call('POST', '/v2.0/ports', { ports }, [201])).ports as IdRecord[];
    if (created?.length !== count) throw new Error(`bulk create of ${count} ports answered ${created?.length} ports`);
    return created;
  }

  /**
   * Every resource of a collection matching `query` (e.g. network_id=...&fields=id), read in
   * pages of `pageSize` by marker so that a large list never comes in one answer.
   */
  async listAll(collection: string, query: Record<string, string>, pageSize = 2000): Promise<IdRecord[]> {
    const all: IdRecord[] = [];
    let marker: string | undefined;
    for (;;) {
      const search = new URLSearchParams({ ...query, limit: String(pageSize), ...(marker ? { marker } : {}) });
      if (query.fields && query.fields !== 'id') search.append('fields', 'id');
      const body = await this.call('GET', `/v2.0/${collection}?${search}`);
      const page = body[collection] as IdRecord[];
      all.push(...page);
      const next = (body[`${collection}_links`] as Array<{ rel: string }> | undefined)?.some((l) => l.rel === 'next');
      if (!next || page.length === 0) return all;
      marker = page[page.length - 1]!.id;
    }
  }

  /** Deletes one resource; a 404 (already gone) is fine. */
  async delete(collection: string, id: string): Promise<void> {
    await this.call('DELETE', `/v2.0/${collection}/${id}`, undefined, [204, 404]);
  }

  /** Deletes many resources, `concurrency` at a time; answers how many failed (the first failure is thrown if all did). */
  async deleteMany(collection: string, ids: string[], concurrency = 8, progress?: (done: number) => void): Promise<number> {
    let next = 0;
    let done = 0;
    let failed = 0;
    let firstError: unknown;
    const worker = async () => {
      while (next < ids.length) {
        const id = ids[next++]!;
        try {
          await this.delete(collection, id);
        } catch (err) {
          failed++;
          firstError ??= err;
        }
        if (++done % 500 === 0) progress?.(done);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, ids.length) }, worker));
    if (failed > 0 && failed === ids.length) throw firstError;
    return failed;
  }

  /** Deletes a network after its ports (a network with ports in use cannot be deleted); subnets go with it. */
  async deleteNetworkAndPorts(networkId: string, concurrency = 8, progress?: (line: string) => void): Promise<void> {
    const ports = await this.listAll('ports', { network_id: networkId, fields: 'id' });
    if (ports.length) {
      progress?.(`deleting ${ports.length} ports of network ${networkId}`);
      const failed = await this.deleteMany(
        'ports',
        ports.map((p) => p.id),
        concurrency,
        (done) => progress?.(`  ${done}/${ports.length} ports deleted`),
      );
      if (failed) progress?.(`  ${failed} port deletes failed`);
    }
    await this.delete('networks', networkId);
  }
}
