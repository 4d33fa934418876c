declare const spec: {
  find(task: string, options?: { limit?: number; method?: string; product?: string; api?: string }): { api: string; method: string; path: string; summary: string; product: string }[]; // best first
  op(method: string, path: string): { api: string; method: string; path: string; summary: string; parameters: { name: string; in: string; required: boolean; type: string; description?: string }[]; body?: string; response?: string }; // types as TypeScript
  paths: Record<string, Partial<Record<"get" | "post" | "put" | "patch" | "delete", {
    summary?: string;
    description?: string;
    operationId?: string;
    tags: string[]; // product first
    parameters?: { name: string; in: "path" | "query" | "header"; required?: boolean; schema?: any }[];
    requestBody?: { content: Record<string, { schema: any }> };
    responses?: Record<string, any>;
  }>>>;
};
