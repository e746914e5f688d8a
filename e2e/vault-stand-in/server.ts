/**
 * The vault stand-in plugin's gRPC service: Pulumi's ResourceProvider
 * protocol on the SDK's own generated stubs. The provider's configuration
 * (CheckConfig, DiffConfig, Configure) and, for each resource type the
 * program registers, Check, Diff, Create, Read, Update and Delete, dispatched
 * to its kind in resources/. The SDK's own provider server cannot serve
 * this: it ignores Configure's arguments and implements neither CheckConfig
 * nor DiffConfig, so it would never learn Vault's address and token.
 */
import * as grpc from "@grpc/grpc-js";
import { Empty } from "google-protobuf/google/protobuf/empty_pb";
import { IResourceProviderServer, ResourceProviderService } from "@pulumi/pulumi/proto/provider_grpc_pb";
import * as pluginpb from "@pulumi/pulumi/proto/plugin_pb";
import * as providerpb from "@pulumi/pulumi/proto/provider_pb";
import { redact } from "../../components/lib/vault-api";
import { ArgSpecs, CheckFailure, checkArgs, diffArgs, DiffKind, liveInputs, outputsOf } from "./arguments";
import { checkSettings, settingsOf, VaultConnection } from "./connection";
import {
    containsUnknown,
    fromStruct,
    isSet,
    PropertyMap,
    reveal,
    revealAll,
    secretStrings,
    toStruct,
    UNKNOWN,
    Value,
} from "./properties";
import { KINDS } from "./resources";
import { LiveState, ResourceKind } from "./resources/kind";

const PREFIX = "vault stand-in plugin";

/** A line on stderr (the engine shows a resource plugin's output only in its debug log). */
export function log(message: string): void {
    process.stderr.write(`${PREFIX}: ${message}\n`);
}

/** The message an error reaches the engine with: it always names the stand-in. */
function messageOf(err: unknown): string {
    const text = err instanceof Error ? err.message : String(err);
    return text.startsWith(`${PREFIX}:`) ? text : `${PREFIX}: ${text}`;
}

const DIFF_KIND: Readonly<Record<DiffKind, [providerpb.PropertyDiff.Kind, providerpb.PropertyDiff.Kind]>> = {
    add: [providerpb.PropertyDiff.Kind.ADD, providerpb.PropertyDiff.Kind.ADD_REPLACE],
    delete: [providerpb.PropertyDiff.Kind.DELETE, providerpb.PropertyDiff.Kind.DELETE_REPLACE],
    update: [providerpb.PropertyDiff.Kind.UPDATE, providerpb.PropertyDiff.Kind.UPDATE_REPLACE],
};

/** The type token of a request: its type field, else the last type of its URN (`...::parent$type::name`). */
function typeOf(type: string, urn: string): string {
    if (type !== "") return type;
    const parts = urn.split("::");
    return (parts[2] ?? "").split("$").pop() ?? "";
}

function kindOf(type: string, urn: string): ResourceKind {
    const token = typeOf(type, urn);
    const kind = KINDS.get(token);
    if (kind === undefined) {
        throw new Error(
            `${PREFIX}: resource type ${token} is not implemented (it serves: ${[...KINDS.keys()].join(", ")})`,
        );
    }
    return kind;
}

/** The arguments among a resource's outputs (for state that carries no inputs). */
function argsAmong(specs: ArgSpecs, props: PropertyMap): PropertyMap {
    const out: PropertyMap = {};
    for (const [key, value] of Object.entries(props)) if (specs[key] !== undefined) out[key] = value;
    return out;
}

function failuresOf(failures: readonly CheckFailure[]): providerpb.CheckFailure[] {
    return failures.map((f) => new providerpb.CheckFailure().setProperty(f.property).setReason(f.reason));
}

export class StandInProvider {
    private connection?: VaultConnection;
    private cancelled = false;

    constructor(readonly version: string) {}

    private vault(): VaultConnection {
        if (this.connection === undefined) throw new Error(`${PREFIX}: the engine has not called Configure yet`);
        if (this.cancelled) throw new Error(`${PREFIX}: the engine cancelled this run`);
        return this.connection;
    }

    /** Runs a Vault operation; its error never quotes the token or a secret input. */
    private async guarded<T>(secrets: readonly string[], run: () => Promise<T>): Promise<T> {
        try {
            return await run();
        } catch (err) {
            const known = [...secrets, ...(this.connection === undefined ? [] : [this.connection.settings.token])];
            throw new Error(redact(messageOf(err), known));
        }
    }

    /** Outputs from what Vault has now, in the terms of the last inputs. */
    private outputs(
        kind: ResourceKind,
        last: PropertyMap | undefined,
        live: LiveState,
    ): { inputs: PropertyMap; outputs: PropertyMap } {
        const inputs = liveInputs(kind.args, last, live.args);
        return { inputs, outputs: outputsOf(kind.args, inputs, live.computed) };
    }

    getPluginInfo(): pluginpb.PluginInfo {
        return new pluginpb.PluginInfo().setVersion(this.version);
    }

    getSchema(): providerpb.GetSchemaResponse {
        const schema = {
            name: "vault",
            version: this.version,
            description: `${PREFIX}: serves the resource types secret-platform registers; not the real pulumi-vault provider`,
        };
        return new providerpb.GetSchemaResponse().setSchema(JSON.stringify(schema));
    }

    handshake(): providerpb.ProviderHandshakeResponse {
        return new providerpb.ProviderHandshakeResponse().setAcceptSecrets(true);
    }

    checkConfig(req: providerpb.CheckRequest): providerpb.CheckResponse {
        const failures = checkSettings(fromStruct(req.getNews()));
        // The inputs go back as they came: the engine puts their secret marks back itself.
        const res = new providerpb.CheckResponse().setFailuresList(failuresOf(failures));
        const news = req.getNews();
        if (news !== undefined) res.setInputs(news);
        return res;
    }

    diffConfig(req: providerpb.DiffRequest): providerpb.DiffResponse {
        const olds = fromStruct(req.hasOldInputs() ? req.getOldInputs() : req.getOlds());
        const news = fromStruct(req.getNews());
        const changed = [...new Set([...Object.keys(olds), ...Object.keys(news)])].filter(
            (key) =>
                key !== "version" &&
                (containsUnknown(news[key]) ||
                    JSON.stringify(reveal(olds[key] ?? null)) !== JSON.stringify(reveal(news[key] ?? null))),
        );
        // No provider argument replaces the provider (that would replace every resource): all are updates.
        const res = new providerpb.DiffResponse()
            .setChanges(
                changed.length > 0
                    ? providerpb.DiffResponse.DiffChanges.DIFF_SOME
                    : providerpb.DiffResponse.DiffChanges.DIFF_NONE,
            )
            .setDiffsList(changed)
            .setHasdetaileddiff(true);
        for (const key of changed) {
            const kind: DiffKind = !isSet(olds[key]) ? "add" : !isSet(news[key]) ? "delete" : "update";
            res.getDetaileddiffMap().set(
                key,
                new providerpb.PropertyDiff().setKind(DIFF_KIND[kind][0]).setInputdiff(true),
            );
        }
        return res;
    }

    configure(req: providerpb.ConfigureRequest): providerpb.ConfigureResponse {
        let config: PropertyMap;
        if (req.hasArgs()) {
            config = fromStruct(req.getArgs());
        } else {
            // Older engines send only `variables`, keyed `vault:config:<name>`.
            config = {};
            req.getVariablesMap().forEach((value: string, key: string) => {
                config[key.replace(/^vault:config:/, "")] = value;
            });
        }
        const settings = settingsOf(config);
        this.connection = new VaultConnection(settings);
        log(
            `configured for ${settings.address}` +
                (settings.caCertFile === undefined ? "" : ` trusting ${settings.caCertFile}`) +
                (settings.skipChildToken ? "" : ", through a child token"),
        );
        return new providerpb.ConfigureResponse().setAcceptsecrets(true).setSupportspreview(true);
    }

    check(req: providerpb.CheckRequest): providerpb.CheckResponse {
        const kind = kindOf(req.getType(), req.getUrn());
        const { inputs, failures } = checkArgs(kind.token, kind.args, fromStruct(req.getNews()));
        return new providerpb.CheckResponse().setInputs(toStruct(inputs)).setFailuresList(failuresOf(failures));
    }

    diff(req: providerpb.DiffRequest): providerpb.DiffResponse {
        const kind = kindOf(req.getType(), req.getUrn());
        const news = fromStruct(req.getNews());
        const base = req.hasOldInputs()
            ? fromStruct(req.getOldInputs())
            : argsAmong(kind.args, fromStruct(req.getOlds()));
        const diff = diffArgs(kind.args, base, news, req.getIgnorechangesList());
        const res = new providerpb.DiffResponse()
            .setChanges(
                diff.changes.size > 0
                    ? providerpb.DiffResponse.DiffChanges.DIFF_SOME
                    : providerpb.DiffResponse.DiffChanges.DIFF_NONE,
            )
            .setReplacesList([...diff.replaces])
            .setDiffsList([...new Set([...diff.changes.keys()].map((path) => path.split(".")[0]))])
            .setHasdetaileddiff(true);
        for (const [path, change] of diff.changes) {
            const replaces = diff.replaces.includes(path.split(".")[0]);
            res.getDetaileddiffMap().set(
                path,
                new providerpb.PropertyDiff().setKind(DIFF_KIND[change][replaces ? 1 : 0]).setInputdiff(true),
            );
        }
        if (diff.replaces.length > 0 && !containsUnknown(Object.values(news))) {
            // The replacement would take the same name in Vault (e.g. only a mount's type changed): delete first.
            res.setDeletebeforereplace(kind.identity(revealAll(base)) === kind.identity(revealAll(news)));
        }
        return res;
    }

    async create(req: providerpb.CreateRequest): Promise<providerpb.CreateResponse> {
        const kind = kindOf(req.getType(), req.getUrn());
        const props = fromStruct(req.getProperties());
        if (req.getPreview()) {
            const computed: PropertyMap = Object.fromEntries(
                kind.computed.map((key): [string, Value] => [key, UNKNOWN]),
            );
            return new providerpb.CreateResponse().setProperties(toStruct(outputsOf(kind.args, props, computed)));
        }
        const vault = this.vault();
        return this.guarded(secretStrings(Object.values(props)), async () => {
            const id = await kind.create(vault, revealAll(props));
            const live = await kind.read(vault, id);
            if (live === undefined)
                throw new Error(`${PREFIX}: ${kind.token} ${id} was created but Vault does not show it`);
            log(`created ${kind.token} ${id}`);
            return new providerpb.CreateResponse()
                .setId(id)
                .setProperties(toStruct(this.outputs(kind, props, live).outputs));
        });
    }

    async read(req: providerpb.ReadRequest): Promise<providerpb.ReadResponse> {
        const kind = kindOf(req.getType(), req.getUrn());
        const id = req.getId();
        const props = fromStruct(req.getProperties());
        const inputs = req.hasInputs() ? fromStruct(req.getInputs()) : undefined;
        // Without inputs, the arguments among the outputs stand for them; with neither (an import), Vault says all.
        const last = inputs ?? (Object.keys(props).length > 0 ? argsAmong(kind.args, props) : undefined);
        const vault = this.vault();
        return this.guarded(secretStrings(Object.values({ ...props, ...inputs })), async () => {
            const live = await kind.read(vault, id);
            // An empty ID tells the engine the object is gone.
            if (live === undefined) return new providerpb.ReadResponse().setId("");
            const { inputs: liveArgs, outputs } = this.outputs(kind, last, live);
            return new providerpb.ReadResponse()
                .setId(id)
                .setProperties(toStruct(outputs))
                .setInputs(toStruct(liveArgs));
        });
    }

    async update(req: providerpb.UpdateRequest): Promise<providerpb.UpdateResponse> {
        const kind = kindOf(req.getType(), req.getUrn());
        const news = fromStruct(req.getNews());
        const olds = fromStruct(req.getOlds());
        const oldInputs = req.hasOldInputs() ? fromStruct(req.getOldInputs()) : argsAmong(kind.args, olds);
        if (req.getPreview()) {
            const computed: PropertyMap = Object.fromEntries(
                kind.computed.map((key): [string, Value] => [key, olds[key] ?? UNKNOWN]),
            );
            return new providerpb.UpdateResponse().setProperties(toStruct(outputsOf(kind.args, news, computed)));
        }
        const vault = this.vault();
        const id = req.getId();
        return this.guarded(secretStrings(Object.values({ ...olds, ...news })), async () => {
            await kind.update(vault, id, revealAll(oldInputs), revealAll(news));
            const live = await kind.read(vault, id);
            if (live === undefined)
                throw new Error(`${PREFIX}: ${kind.token} ${id} was updated but Vault does not show it`);
            log(`updated ${kind.token} ${id}`);
            return new providerpb.UpdateResponse().setProperties(toStruct(this.outputs(kind, news, live).outputs));
        });
    }

    async delete(req: providerpb.DeleteRequest): Promise<void> {
        const kind = kindOf(req.getType(), req.getUrn());
        const props = fromStruct(req.getProperties());
        const args = req.hasOldInputs() ? fromStruct(req.getOldInputs()) : argsAmong(kind.args, props);
        const vault = this.vault();
        await this.guarded(secretStrings(Object.values(props)), async () => {
            await kind.delete(vault, req.getId(), revealAll(args));
            log(`deleted ${kind.token} ${req.getId()}`);
        });
    }

    cancel(): void {
        this.cancelled = true;
    }
}

/** A gRPC handler from a (possibly async) method; a throw becomes the call's error. */
function unary<Req, Res>(run: (req: Req) => Res | Promise<Res>): grpc.handleUnaryCall<Req, Res> {
    return (call, callback) => {
        Promise.resolve()
            .then(() => run(call.request))
            .then(
                (res) => callback(null, res),
                (err: unknown) => {
                    const details = messageOf(err);
                    log(details);
                    callback({ code: grpc.status.UNKNOWN, details });
                },
            );
    };
}

function unimplemented<Req, Res>(name: string): grpc.handleUnaryCall<Req, Res> {
    return (_call, callback) =>
        callback({ code: grpc.status.UNIMPLEMENTED, details: `${PREFIX}: ${name} is not implemented` });
}

/** The service implementation the gRPC server registers. */
export function serviceOf(provider: StandInProvider): IResourceProviderServer {
    return {
        handshake: unary(() => provider.handshake()),
        parameterize: unimplemented("Parameterize"),
        getSchema: unary(() => provider.getSchema()),
        checkConfig: unary((req: providerpb.CheckRequest) => provider.checkConfig(req)),
        diffConfig: unary((req: providerpb.DiffRequest) => provider.diffConfig(req)),
        configure: unary((req: providerpb.ConfigureRequest) => provider.configure(req)),
        invoke: unimplemented("Invoke (the stand-in serves no data sources)"),
        call: unimplemented("Call"),
        check: unary((req: providerpb.CheckRequest) => provider.check(req)),
        diff: unary((req: providerpb.DiffRequest) => provider.diff(req)),
        create: unary((req: providerpb.CreateRequest) => provider.create(req)),
        read: unary((req: providerpb.ReadRequest) => provider.read(req)),
        list: (call) =>
            call.emit("error", { code: grpc.status.UNIMPLEMENTED, details: `${PREFIX}: List is not implemented` }),
        update: unary((req: providerpb.UpdateRequest) => provider.update(req)),
        delete: unary(async (req: providerpb.DeleteRequest) => {
            await provider.delete(req);
            return new Empty();
        }),
        construct: unimplemented("Construct"),
        cancel: unary(() => {
            provider.cancel();
            return new Empty();
        }),
        getPluginInfo: unary(() => provider.getPluginInfo()),
        // Attach (PULUMI_DEBUG_PROVIDERS) needs nothing: the stand-in never calls back into the engine.
        attach: unary(() => new Empty()),
        getMapping: unimplemented("GetMapping"),
        getMappings: unimplemented("GetMappings"),
    };
}

/** Starts the server on a free loopback port and resolves with the port. */
export async function serve(provider: StandInProvider): Promise<{ port: number; server: grpc.Server }> {
    const server = new grpc.Server({ "grpc.max_receive_message_length": 400 * 1024 * 1024 });
    server.addService(ResourceProviderService, serviceOf(provider));
    const port = await new Promise<number>((resolve, reject) =>
        server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, bound) =>
            err === null ? resolve(bound) : reject(err),
        ),
    );
    return { port, server };
}
