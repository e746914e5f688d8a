/** Every resource type the stand-in serves: exactly those the program registers, by type token. */
import * as identity from "./identity";
import * as jwt from "./jwt";
import { ResourceKind } from "./kind";
import * as kubernetes from "./kubernetes";
import * as kv from "./kv";
import * as sys from "./sys";

export const KINDS: ReadonlyMap<string, ResourceKind> = new Map(
    [
        sys.audit,
        sys.mount,
        kv.secretBackendV2,
        sys.policy,
        jwt.authBackend,
        jwt.authBackendRole,
        identity.group,
        identity.groupAlias,
        sys.authBackend,
        kubernetes.authBackendConfig,
        kubernetes.authBackendRole,
    ].map((kind) => [kind.token, kind]),
);
