// The browser driver of t/e2e_browser.t: Debian's chromium, headless,
// through playwright-core (no browser download).
//
//   node t/e2e/driver.js SPEC.json > RESULT.json
//
// SPEC: { "base": "http://127.0.0.1:PORT", "chromium": "/usr/bin/chromium",
//         "profile": "/fresh/user-data-dir", "shots": "/dir/for/png" (opt),
//         "steps": [ { "go": "/path", "facts": "name" (opt),
//                      "shot": "name" (opt) }, ... ] }
// A step loads the path in the one page (cookies persist between steps, as
// in a person's browser) and, when it has "facts", records what a person
// sees: hero heading and text, promo strip, cross-sell items, the coupon
// field's value, the chat prompt.  Console errors and page errors of every
// step are reported with it.  RESULT: { "facts": { name: {...} },
// "errors": [ ... ] } on stdout; exit 0, or 1 with a message on stderr.

'use strict';

const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

async function main() {
    const spec = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
    const result = { facts: {}, errors: [], chromium: null };

    const context = await chromium.launchPersistentContext(spec.profile, {
        executablePath: spec.chromium || '/usr/bin/chromium',
        headless: true,
        args: ['--headless', '--no-sandbox', '--disable-gpu',
               '--disable-quic', '--no-first-run',
               '--disable-background-networking',
               '--disable-component-update', '--disable-sync'],
        viewport: { width: 1200, height: 900 },
        timeout: 60000,
    });

    try {
        result.chromium = context.browser()
            ? context.browser().version() : null;
        const page = context.pages()[0] || await context.newPage();
        let step = null;

        page.on('console', (msg) => {
            if (msg.type() === 'error') {
                result.errors.push({ step, console: msg.text() });
            }
        });
        page.on('pageerror', (err) => {
            result.errors.push({ step, pageerror: String(err) });
        });
        page.on('requestfailed', (req) => {
            result.errors.push({ step, requestfailed: req.url(),
                                 failure: req.failure() && req.failure().errorText });
        });

        for (const s of spec.steps) {
            step = s.facts || s.go;
            const resp = await page.goto(spec.base + s.go,
                                         { waitUntil: 'load', timeout: 20000 });

            if (s.shot && spec.shots) {
                await page.screenshot({ path: path.join(spec.shots,
                                                        s.shot + '.png'),
                                        fullPage: true });
            }

            if (!s.facts) {
                continue;
            }

            const f = await page.evaluate(() => {
                const text = (sel) => {
                    const e = document.querySelector(sel);
                    return e ? e.innerText.replace(/\s+/g, ' ').trim() : null;
                };
                const coupon = document.querySelector('input[name="coupon"]');
                const prompt = document.querySelector('[data-pz-prompt]');
                return {
                    title: document.title,
                    url: location.pathname + location.search,
                    hero_h1: text('#hero h1'),
                    hero: text('#hero'),
                    hero_class: document.querySelector('#hero')
                        ? document.querySelector('#hero').className : null,
                    promo: text('#promo'),
                    crosssell: Array.from(document.querySelectorAll(
                        '#crosssell li')).map(
                        (li) => li.innerText.replace(/\s+/g, ' ').trim()),
                    reorder: Array.from(document.querySelectorAll(
                        '#reorder li')).map(
                        (li) => li.innerText.replace(/\s+/g, ' ').trim()),
                    coupon: coupon ? coupon.value : null,
                    prompt: prompt ? prompt.innerText.replace(/\s+/g, ' ')
                                                     .trim() : null,
                    prompt_visible: prompt
                        ? prompt.getBoundingClientRect().height > 0 : false,
                    markers: document.documentElement.outerHTML
                        .includes('personalize:'),
                    h1: text('h1'),
                };
            });
            f.status = resp ? resp.status() : 0;
            f.cache_control = resp ? (resp.headers()['cache-control'] || '')
                                   : '';
            result.facts[s.facts] = f;
        }
    } finally {
        await context.close();
    }

    process.stdout.write(JSON.stringify(result, null, 1) + '\n');
}

main().catch((err) => {
    process.stderr.write('driver: ' + (err && err.stack || err) + '\n');
    process.exit(1);
});
