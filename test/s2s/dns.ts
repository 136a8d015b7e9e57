// A real DNS server on a free loopback UDP port (dns2), answering SRV and A records from a table,
// NXDOMAIN for everything else: what node:dns's Resolver (setServers) and ejabberd's inet_res ask.
import dns2 from 'dns2';

const { Packet } = dns2;

export interface SrvAnswer {
  readonly priority: number;
  readonly weight: number;
  readonly port: number;
  readonly target: string;
}

export interface DnsZone {
  /** `_xmpp-server._tcp.example.net` → records; an empty list answers NOERROR with no records. */
  srv?: Record<string, readonly SrvAnswer[]>;
  /** Host name → IPv4 addresses. */
  a?: Record<string, readonly string[]>;
}

export interface TestDnsServer {
  readonly port: number;
  /** Names asked, in order, as `TYPE name`. */
  readonly queries: string[];
  close(): Promise<void>;
}

export async function startDnsServer(zone: DnsZone): Promise<TestDnsServer> {
  const queries: string[] = [];
  const lower = <T>(table: Readonly<Record<string, T>> | undefined): Map<string, T> =>
    new Map(Object.entries(table ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const server = dns2.createServer({
    udp: true,
    handle: (request, send) => {
      const response = Packet.createResponseFromRequest(request);
      const question = request.questions[0];
      if (question === undefined) {
        send(response).catch(() => undefined);
        return;
      }
      // Read at query time: a test may fill the zone in once its ports are known.
      const srv = lower(zone.srv);
      const a = lower(zone.a);
      const name = question.name.toLowerCase();
      queries.push(
        `${question.type === Packet.TYPE.SRV ? 'SRV' : question.type === Packet.TYPE.A ? 'A' : String(question.type)} ${name}`,
      );
      // dns2's typings ask for toBuffer on answers; the encoder takes plain records (its README).
      type Resource = (typeof response.answers)[number];
      const base = { name: question.name, class: Packet.CLASS.IN, ttl: 1 };
      if (question.type === Packet.TYPE.SRV && srv.has(name)) {
        for (const record of srv.get(name)!)
          response.answers.push({ ...base, type: Packet.TYPE.SRV, ...record } as Resource);
      } else if (question.type === Packet.TYPE.A && a.has(name)) {
        for (const address of a.get(name)!)
          response.answers.push({ ...base, type: Packet.TYPE.A, address } as Resource);
      } else if (!srv.has(name) && !a.has(name)) {
        response.header.rcode = Packet.RCODE.NXDOMAIN;
      }
      // A lost UDP answer is a timeout for the asker, as on a real network.
      send(response).catch(() => undefined);
    },
  });
  server.on('requestError', (error: Error) => queries.push(`undecodable: ${error.message}`));
  const addresses = await server.listen({ udp: { port: 0, address: '127.0.0.1' } });
  const port = addresses.udp?.port;
  if (port === undefined) throw new Error('the DNS server did not listen on UDP');
  return {
    port,
    queries,
    async close() {
      await server.close();
    },
  };
}
