// Bytes on the wire, counted by a loopback TCP relay put between each exporter and its
// Prometheus: scrapes (Prometheus -> relay -> exporter) and remote writes (exporter ->
// relay -> Prometheus) alike, both directions, HTTP headers included, as the network
// would carry them. Counting in a relay rather than in the exporters measures all three
// strategies the same way, and needs no change to them.
import { once } from 'node:events';
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export class WireMeter {
  readonly port: number;
  readonly upstreamPort: number;
  #server: Server;
  #sockets = new Set<Socket>();
  #bytes = 0;

  private constructor(server: Server, port: number, upstreamPort: number) {
    this.#server = server;
    this.port = port;
    this.upstreamPort = upstreamPort;
  }

  /** Relays 127.0.0.1:<port> to 127.0.0.1:<upstreamPort>, which need not listen yet. */
  static async start(upstreamPort: number): Promise<WireMeter> {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const meter = new WireMeter(server, (server.address() as { port: number }).port, upstreamPort);
    server.on('connection', (client) => meter.#relay(client));
    return meter;
  }

  /** Bytes relayed so far, both directions. */
  get bytes(): number {
    return this.#bytes;
  }

  #relay(client: Socket): void {
    // An upstream that is down (Prometheus stopped for the outage) closes the client's
    // connection at once, as connecting to it directly would fail.
    const upstream = createConnection(this.upstreamPort, '127.0.0.1');
    for (const [from, to] of [[client, upstream], [upstream, client]] as const) {
      this.#sockets.add(from);
      from.on('data', (chunk: Buffer) => {
        this.#bytes += chunk.length;
        if (!to.write(chunk)) from.pause();
      });
      to.on('drain', () => from.resume());
      from.on('end', () => to.end());
      from.on('error', () => to.destroy());
      from.on('close', () => {
        this.#sockets.delete(from);
        to.destroy();
      });
    }
  }

  async close(): Promise<void> {
    const closed = once(this.#server, 'close');
    this.#server.close();
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }
}
