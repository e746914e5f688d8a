import type { ResolvedConfig } from "../resolve";
import type { SecretKey } from "../schema";

/** Reports one problem: the key (without namespace) and what is wrong with it. */
export type Fail = (key: string, message: string) => void;

/**
 * What the rules may know beyond the resolved values: whether each secret key
 * is set (never its value), and which fields the stack set itself rather than
 * left to their defaults.
 */
export interface StackFacts {
    isSet(key: SecretKey): boolean;
    /** The remote cluster names remoteClusterReviewerJwts has a JWT for; undefined when unset or malformed. */
    readonly reviewerJwtNames?: readonly string[];
    /** Whether the stack file sets this field (a dotted path such as `storage.versioning`) itself. */
    given(path: string): boolean;
}

/** A rule between fields or keys of one concern, run on the resolved config. */
export type Rule = (c: ResolvedConfig, facts: StackFacts, fail: Fail) => void;
