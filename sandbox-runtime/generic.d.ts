type Api = {
  request(options: {
    method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
    path: string;
    query?: Record<string, string | number | boolean | (string | number)[]>;
    body?: unknown; contentType?: string; rawBody?: boolean;
  }): Promise<{ ok: boolean; status: number; headers: Record<string, string>; data: any; note?: string }>;
}; // rejects if !ok (Error with status, headers, data), on malformed JSON, past a size limit; empty body: data null, note
