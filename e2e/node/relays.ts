/**
 * The node's network namespace has no link to the host. What must cross it
 * goes through a unix socket, which crosses network namespaces: a socat on
 * each side, one listening on TCP and forwarding to the socket, the other
 * listening on the socket and forwarding to the TCP target on its own side.
 * Nothing is routed, so nothing can leave the node any other way.
 *
 * - relayIntoNode: a service of the host (the API server, the S3 server,
 *   the OIDC provider) at an address of the node's bridge, for pods.
 * - relayOutOfNode: a Service inside the node on the host's loopback, for
 *   the program and the rig (the rig's stand-in for an Ingress: TLS ends at
 *   its host side, with a certificate of the rig CA).
 */
import * as fs from "fs";
import * as path from "path";
import { KeyPair } from "../rig/pki";
import { freePort, Rig, RigProcess } from "../rig/processes";
import { NodeNamespaces } from "./netns";
import { NodeTools } from "./tools";

const READY_MS = 15_000;

export interface Endpoint {
    readonly host: string;
    readonly port: number;
}

/** socat's listening address: TCP, or TLS ended here with `tls` (clients are not asked for a certificate). */
function listenAddress(at: Endpoint, tls?: KeyPair): string {
    const common = `${at.port},bind=${at.host},fork,reuseaddr`;
    return tls === undefined
        ? `TCP-LISTEN:${common}`
        : `OPENSSL-LISTEN:${common},cert=${tls.cert},key=${tls.key},verify=0`;
}

function socketIn(dir: string, name: string): string {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    return path.join(dir, `${name}.sock`);
}

export interface RelayIntoNode {
    /** Where pods reach the service: <node address>:<port>. */
    readonly at: Endpoint;
    readonly processes: readonly RigProcess[];
}

/**
 * Relays `upstream` (on the host) to `at` (an address of the node); resolves
 * once a TLS handshake passes through both ends from inside the node (every
 * service relayed in speaks TLS: the upstream's own, or `tls` ended at `at`).
 */
export async function relayIntoNode(
    rig: Rig,
    tools: NodeTools,
    ns: NodeNamespaces,
    opts: { name: string; dir: string; at: Endpoint; upstream: Endpoint; tls?: KeyPair },
): Promise<RelayIntoNode> {
    const socket = socketIn(opts.dir, opts.name);
    const host = rig.start(`${opts.name}-relay-host`, tools.socat, [
        `UNIX-LISTEN:${socket},fork,mode=600`,
        `TCP:${opts.upstream.host}:${opts.upstream.port}`,
    ]);
    const inner = ns.enter(tools.socat, [listenAddress(opts.at, opts.tls), `UNIX-CONNECT:${socket}`]);
    const node = rig.start(`${opts.name}-relay-node`, inner.bin, inner.args);
    await rig.waitReady(
        node,
        `a TLS handshake with ${opts.upstream.host}:${opts.upstream.port} through ${opts.at.host}:${opts.at.port}, from inside the node`,
        async () => {
            if (host.exited()) throw new Error(`${host.name} exited: ${host.logTail(5)}`);
            await ns.run(tools.socat, ["-T2", "/dev/null", `OPENSSL:${opts.at.host}:${opts.at.port},verify=0`], 5_000);
            return true;
        },
        READY_MS,
    );
    return { at: opts.at, processes: [host, node] };
}

export interface RelayOutOfNode {
    /** https://127.0.0.1:<port> (or http:// without TLS). */
    readonly address: string;
    readonly processes: readonly RigProcess[];
    /** Starts the node's end towards `target` (e.g. a Service's cluster IP, known once it exists). */
    connect(target: Endpoint): RigProcess;
}

/**
 * A listener on the host's loopback now (on `port` when given: a new node behind the same address); the
 * node's end once `connect` names the target.
 */
export async function relayOutOfNode(
    rig: Rig,
    tools: NodeTools,
    ns: NodeNamespaces,
    opts: { name: string; dir: string; tls?: KeyPair; port?: number },
): Promise<RelayOutOfNode> {
    const socket = socketIn(opts.dir, opts.name);
    const at = { host: "127.0.0.1", port: opts.port ?? (await freePort()) };
    const host = rig.start(`${opts.name}-relay-host`, tools.socat, [
        listenAddress(at, opts.tls),
        `UNIX-CONNECT:${socket}`,
    ]);
    const processes: RigProcess[] = [host];
    return {
        address: `${opts.tls === undefined ? "http" : "https"}://${at.host}:${at.port}`,
        processes,
        connect: (target) => {
            const inner = ns.enter(tools.socat, [
                `UNIX-LISTEN:${socket},fork,mode=600`,
                `TCP:${target.host}:${target.port}`,
            ]);
            const node = rig.start(`${opts.name}-relay-node`, inner.bin, inner.args);
            processes.push(node);
            return node;
        },
    };
}
