/** Entry of the bundle components/kv-export.cjs: the export step of the KV backup CronJob (./job.ts). */
import { runExportJob } from "./job";

runExportJob().then(
    (code) => (process.exitCode = code),
    (err) => {
        console.error(`vault-kv-backup: ${(err as Error).message}`);
        process.exitCode = 1;
    },
);
