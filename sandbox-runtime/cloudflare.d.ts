declare const accountId: string; // the Cloudflare account
declare const cloudflare: {
  request(options: {
    method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
    path: string; // "/zones/abc/dns_records"
    query?: Record<string, string | number | boolean | (string | number)[]>;
    body?: unknown; // JSON unless rawBody
    contentType?: string;
    rawBody?: boolean;
  }): Promise<{ success: boolean; status: number; result: any; errors: { code: number; message: string }[]; messages: any[]; result_info?: any }>;
}; // rejects with the API's error codes and messages when success is false
