import type { ResolvedConfig } from "../resolve";
import type { SecretKey } from "../schema";

/** Reports one problem: the key (without namespace) and what is wrong with it. */
export type Fail = (key: string, message: string) => void;

/** What the rules may know of the secret keys: whether each is set, never its value. */
export interface SecretFacts {
    isSet(key: SecretKey): boolean;
    /** The remote cluster names remoteClusterReviewerJwts has a JWT for; undefined when unset or malformed. */
    readonly reviewerJwtNames?: readonly string[];
}

/** A rule between fields or keys of one concern, run on the resolved config. */
export type Rule = (c: ResolvedConfig, secrets: SecretFacts, fail: Fail) => void;
