import type { Endpoint } from "@/lib/types";
import { LocalTime } from "./LocalTime";

export function EndpointHealth({ e }: { e: Endpoint }) {
  if (!e.enabled) return <span className="badge badge-off">Disabled</span>;
  if (e.paused) return <span className="badge badge-warn">Paused</span>;
  if (e.failing_since)
    return (
      <span>
        <span className="badge badge-bad">Failing</span> <span className="small">since <LocalTime iso={e.failing_since} /></span>
      </span>
    );
  return <span className="badge badge-ok">Healthy</span>;
}
