/**
 * docs/observability.md lists the dashboard's panels and the alert rules from the JSON Grafana and Azure
 * Monitor get (scripts/render-dashboard.ts); the committed document must be exactly what the script
 * renders, and the rendering must carry every panel's title, queries and unit.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { describe, it } from "node:test";
import {
  ALERTS_FILE,
  BEGIN,
  DASHBOARD_FILE,
  DOC_FILE,
  END,
  panelsOf,
  renderDoc,
  renderGenerated,
  renderPanels,
  withGenerated,
} from "../scripts/render-dashboard";

const read = (file: string): unknown => JSON.parse(fs.readFileSync(file, "utf8"));

describe("docs/observability.md", () => {
  it("is what scripts/render-dashboard.ts renders from monitoring/dashboard.json and alerts.json", () => {
    const committed = fs.readFileSync(DOC_FILE, "utf8");
    assert.equal(committed, renderDoc(committed), "run: npx tsx scripts/render-dashboard.ts");
  });

  it("names every panel with its unit and every query, pipes escaped for the table", () => {
    const dashboard = read(DASHBOARD_FILE);
    const text = renderPanels(dashboard);
    const panels = panelsOf(dashboard).filter((p) => p.type !== "row");
    assert.ok(panels.length >= 20, `only ${panels.length} panels`);
    for (const panel of panels) {
      const line = text.split("\n").find((l) => l.startsWith(`| **${panel.title}**`));
      assert.ok(line, `no line for ${panel.title}`);
      assert.ok(line.includes(`\`${panel.fieldConfig?.defaults?.unit}\``), `${panel.title}: unit missing`);
      for (const target of panel.targets ?? []) {
        assert.ok(
          line.includes(target.expr.replace(/\|/g, "\\|")),
          `${panel.title}: query ${target.refId} missing`,
        );
      }
      // A bare pipe would split the row into extra cells: exactly 4 unescaped separators per row.
      assert.equal(line.split(/(?<!\\)\|/).length - 1, 4, `${panel.title}: ${line}`);
    }
  });

  it("lists every alert rule", () => {
    const generated = renderGenerated(read(DASHBOARD_FILE), read(ALERTS_FILE));
    const groups = (read(ALERTS_FILE) as { groups: { rules: { alert: string }[] }[] }).groups;
    for (const rule of groups.flatMap((g) => g.rules)) assert.ok(generated.includes(`| **${rule.alert}** |`));
  });

  it("notices a dashboard change the document does not have, and keeps the hand-written text", () => {
    const dashboard = read(DASHBOARD_FILE) as { panels: { title: string }[] };
    const committed = fs.readFileSync(DOC_FILE, "utf8");
    const changed = structuredClone(dashboard);
    const timeseries = changed.panels.find((p) => p.title.startsWith("GPU utilisation"));
    assert.ok(timeseries);
    timeseries.title = "GPU busy";
    const rerendered = withGenerated(committed, renderGenerated(changed, read(ALERTS_FILE)));
    assert.notEqual(rerendered, committed);
    assert.equal(
      rerendered.slice(0, rerendered.indexOf(BEGIN)),
      committed.slice(0, committed.indexOf(BEGIN)),
    );
    assert.ok(rerendered.endsWith(committed.slice(committed.indexOf(END) + END.length)));
    assert.throws(() => withGenerated("no markers here", "x"), /markers/);
  });
});
