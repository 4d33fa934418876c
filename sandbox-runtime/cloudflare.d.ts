declare const accountId: string;
declare const cloudflare: {
  request(options: {
    method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
    path: string;
    query?: Record<string, string | number | boolean | (string | number)[]>;
    body?: unknown; contentType?: string; rawBody?: boolean; // body: JSON unless rawBody
  }): Promise<{ success: boolean; status: number; result: any; errors: { code: number; message: string }[]; messages: any[]; result_info?: any; note?: string }>;
}; // rejects if !success, on malformed JSON, past a size limit; empty body: result null, note
