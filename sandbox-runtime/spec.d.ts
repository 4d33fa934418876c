declare const spec: {
  find(task: string, options?: { limit?: number; method?: string; product?: string; api?: string }): Record<"api" | "method" | "path" | "summary" | "product", string>[]; // best first
  op(method: string, path: string): { summary: string; parameters: { name: string; in: string; required: boolean; type: string }[]; body?: string; response?: string }; // types in TypeScript
  paths: Record<string, Record<"get" | "post" | "put" | "patch" | "delete", { summary?: string; description?: string; tags: string[]; parameters?: any[]; requestBody?: any; responses?: any }>>; // tags[0] is the product
};
