// The live page's files, all served from the package itself (no CDN: it works offline and
// behind a firewall): the HTML below, its script (client/live.ts, compiled beside this
// file) and uPlot, read from the installed `uplot` package (a dependency, so it ships).
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';

interface Asset {
  type: string;
  body: Buffer;
}

// Only this page's own files run: no inline script, no other origin, no framing.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

const HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>wattmeter live</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="uplot.css">
<style>
  :root { color-scheme: dark; }
  body { margin: 0; padding: 20px 28px; background: #0b1020; color: #e5e7eb; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; }
  header { display: flex; align-items: baseline; gap: 16px; flex-wrap: wrap; }
  h1 { font-size: 22px; margin: 0; font-weight: 650; letter-spacing: .2px; }
  h2 { font-size: 15px; margin: 22px 0 6px; font-weight: 600; color: #cbd5e1; }
  .muted, #paths, #peaks, #points { color: #94a3b8; font-size: 12.5px; }
  #status { font-size: 12px; padding: 2px 8px; border-radius: 999px; background: #334155; }
  #status.live { background: #065f46; color: #d1fae5; }
  #status.down { background: #7f1d1d; color: #fee2e2; }
  #estimate { margin: 12px 0 0; padding: 10px 14px; border-radius: 8px; background: #451a03; color: #fde68a; border: 1px solid #92400e; }
  #warnings { white-space: pre-wrap; color: #fca5a5; font-size: 12.5px; margin: 6px 0 0; }
  #cards { display: flex; gap: 12px; flex-wrap: wrap; margin: 16px 0 4px; }
  .card { min-width: 150px; padding: 10px 14px; border-radius: 10px; background: #111827; border-left: 4px solid; }
  .card .name { color: #94a3b8; font-size: 12.5px; }
  .card .watts { font-size: 26px; font-weight: 650; font-variant-numeric: tabular-nums; }
  .card .joules { color: #cbd5e1; font-size: 12.5px; font-variant-numeric: tabular-nums; }
  .panel { background: #0f172a; border: 1px solid #1e293b; border-radius: 10px; padding: 10px 12px 4px; }
  .controls { display: flex; gap: 14px; align-items: center; margin: 4px 0 8px; flex-wrap: wrap; }
  select { background: #1e293b; color: #e5e7eb; border: 1px solid #334155; border-radius: 6px; padding: 2px 6px; }
  table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
  #attribution table { margin: 0 0 8px; }
  #attribution td { padding: 1px 16px 1px 0; }
  th { text-align: left; color: #94a3b8; font-weight: 500; padding: 2px 16px 2px 0; }
  .u-legend { color: #cbd5e1; font-size: 12.5px; }
  .u-legend .u-marker { border-radius: 2px; }
  .columns { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
  @media (max-width: 900px) { .columns { grid-template-columns: 1fr; } }
</style>
<script src="uplot.js" defer></script>
<script src="live.js" type="module"></script>
</head>
<body>
<header>
  <h1>wattmeter live</h1>
  <span id="status">connecting…</span>
  <span class="muted" id="source"></span>
  <span id="paths"></span>
</header>
<p id="estimate" hidden></p>
<p id="warnings"></p>
<div id="cards"></div>
<h2>Power per domain: every stored millisecond, last minute <span id="points"></span></h2>
<div class="panel"><div id="main"></div></div>
<h2>What each exporter stores of the same power</h2>
<div class="panel">
  <div class="controls">
    <label>domain <select id="domain"></select></label>
    <label>simple's scrape interval <select id="interval">
      <option value="1">1 s</option><option value="5">5 s</option><option value="15" selected>15 s</option><option value="30">30 s</option><option value="60">60 s</option>
    </select></label>
    <span id="peaks"></span>
  </div>
  <div id="compare"></div>
  <p class="muted">multirate and remote write keep every millisecond; simple keeps one value per scrape (the mean of the second before it), so a burst shorter than the interval is averaged away or missed.</p>
</div>
<div class="columns">
  <div>
    <h2>Sampler health</h2>
    <div class="panel"><table id="health"></table></div>
  </div>
  <div>
    <h2>Per process and per container</h2>
    <div class="panel" id="attribution"><p class="muted">waiting for the server…</p></div>
  </div>
</div>
</body>
</html>
`;

/** The page's files by path, read once at start. */
export function pageAssets(): Record<string, Asset> {
  const require = createRequire(import.meta.url);
  const uplot = (file: string) => readFileSync(require.resolve(`uplot/dist/${file}`));
  return {
    '/': { type: 'text/html; charset=utf-8', body: Buffer.from(HTML) },
    '/live.js': { type: 'text/javascript; charset=utf-8', body: readFileSync(new URL('./client/live.js', import.meta.url)) },
    '/uplot.js': { type: 'text/javascript; charset=utf-8', body: uplot('uPlot.iife.min.js') },
    '/uplot.css': { type: 'text/css; charset=utf-8', body: uplot('uPlot.min.css') },
  };
}

/** Serves one asset. */
export function sendAsset(asset: Asset) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    res.writeHead(200, {
      'Content-Type': asset.type,
      'Content-Length': asset.body.length,
      'Content-Security-Policy': CSP,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'Cache-Control': 'no-cache',
    });
    res.end(req.method === 'HEAD' ? undefined : asset.body);
  };
}
