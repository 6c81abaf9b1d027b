/**
 * The relay's default data folder (relay/config.ts defaultRelayDataDir): the XDG folder for an
 * ordinary user, a system state folder for root (whose embedded PostgreSQL runs as another user,
 * which cannot pass through /root).
 */
import { describe, expect, test } from "vitest";
import { ROOT_RELAY_DATA_DIR, defaultRelayDataDir } from "../../relay/config.js";

describe("default relay data folder", () => {
  test("an ordinary user: $XDG_DATA_HOME/socketmessenger/relay", () => {
    expect(defaultRelayDataDir({ XDG_DATA_HOME: "/home/ann/.data" }, false)).toBe(
      "/home/ann/.data/socketmessenger/relay",
    );
    expect(defaultRelayDataDir({}, false)).toMatch(/\/\.local\/share\/socketmessenger\/relay$/);
  });

  test("root without XDG_DATA_HOME: /var/lib/socketmessenger/relay; with it, the folder it names", () => {
    expect(defaultRelayDataDir({}, true)).toBe(ROOT_RELAY_DATA_DIR);
    expect(ROOT_RELAY_DATA_DIR).toBe("/var/lib/socketmessenger/relay");
    expect(defaultRelayDataDir({ XDG_DATA_HOME: "/srv/data" }, true)).toBe("/srv/data/socketmessenger/relay");
  });
});
