declare const spec: {
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
