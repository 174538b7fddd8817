// Shapes of the query API's JSON (see its /openapi.json).

export interface Page<T> {
  data: T[];
  next_cursor?: string | null;
}

export interface FieldError {
  field: string;
  message: string;
}

export interface Problem {
  type?: string;
  title?: string;
  status: number;
  detail?: string;
  errors?: FieldError[];
}

export interface EventSummary {
  id: string;
  type: string;
  occurred_at: string;
  received_at: string;
  payload?: unknown;
}

export interface Delivery {
  id: string;
  event_id: string;
  endpoint_id: string;
  status: "pending" | "succeeded" | "failed" | "refused" | string;
  attempt_count: number;
  next_attempt_at?: string | null;
  last_attempt_at?: string | null;
  last_status_code?: number | null;
  last_error?: string | null;
}

export interface EventDetail extends EventSummary {
  payload: unknown;
  deliveries: Delivery[];
}

export interface Attempt {
  id: string;
  delivery_id: string;
  attempt_number: number;
  started_at: string;
  duration_ms: number;
  status_code?: number | null;
  response_body?: string | null;
  error_kind?: string | null;
}

export interface Endpoint {
  id: string;
  project_id: string;
  url: string;
  description: string;
  event_types: string[];
  payload_filter?: unknown;
  headers: Record<string, string>;
  rate_limit_per_second?: number | null;
  max_concurrency: number;
  enabled: boolean;
  disabled_reason?: string | null;
  paused: boolean;
  failing_since?: string | null;
  last_success_at?: string | null;
  created_at: string;
  updated_at: string;
}

export interface EndpointSecret {
  secret: string;
  previous_secret?: string | null;
  previous_secret_expires_at?: string | null;
}

export interface StatsPoint {
  start: string;
  events: number;
  deliveries_succeeded: number;
  deliveries_failed: number;
  attempts: number;
  latency_ms: { p50?: number | null; p90?: number | null; p99?: number | null };
}

export interface Stats {
  bucket: "minute" | "hour" | "day";
  since: string;
  until: string;
  endpoint_id?: string | null;
  series: StatsPoint[];
}

export interface Project {
  id: string;
  name: string;
  rate_limit_per_second?: number | null;
  rate_limit_burst?: number | null;
  retention_days: number;
  created_at: string;
}

export interface ApiKey {
  id: string;
  project_id: string;
  name: string;
  scopes: string[] | string;
  created_at: string;
  revoked_at?: string | null;
  expires_at?: string | null;
}
