type Api = {
  request(options: {
    method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
    path: string;
    query?: Record<string, string | number | boolean | (string | number)[]>;
    body?: unknown; contentType?: string; rawBody?: boolean;
  }): Promise<{ ok: boolean; status: number; headers: Record<string, string>; data: any }>;
}; // rejects when ok is false, with an Error carrying status, headers and data
