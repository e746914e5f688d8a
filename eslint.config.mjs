// Lint: typescript-eslint's recommended rules, plus Pulumi's rules that catch an
// Output in a template literal (it prints "Calling [toString] on an [Output<T>]"
// instead of the value: use pulumi.interpolate). Those two need type information.
import tseslint from "typescript-eslint";
import pulumi from "@pulumi/eslint-plugin";

export default tseslint.config(
    { ignores: ["node_modules/**", "bin/**", "**/*.cjs", "**/*.mjs"] },
    ...tseslint.configs.recommended,
    {
        languageOptions: {
            parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
        },
        plugins: { pulumi },
        rules: {
            "pulumi/no-output-in-template-literal": "error",
            "pulumi/no-output-instance-in-template-literal": "error",
            "@typescript-eslint/no-require-imports": "off",
            "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
            "no-restricted-syntax": [
                "error",
                {
                    selector: "LogicalExpression[operator='||'] > Literal.right",
                    message: "Use ?? for defaults: || also replaces 0, false and ''.",
                },
            ],
        },
    },
    {
        // Specs mutate deep fixture objects to make each bad config.
        files: ["test/**/*.ts"],
        rules: { "@typescript-eslint/no-explicit-any": "off" },
    },
);
