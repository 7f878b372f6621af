package status

// stylesheet is the page's only style, inline: the page loads nothing from
// anywhere else. Status is never shown by colour alone; each badge also
// says it in words and with a mark.
const stylesheet = `
:root{--ok:#2e7d32;--warn:#f9a825;--fail:#c62828;--skip:#757575;--line:#d0d7de;--muted:#57606a}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans CJK SC","Noto Sans SC","PingFang SC","Microsoft YaHei",sans-serif;color:#1f2328;background:#f6f8fa}
header{background:#24292f;color:#fff;padding:.75rem 1rem;display:flex;flex-wrap:wrap;gap:.25rem 1rem;align-items:baseline}
header h1{font-size:1.15rem;margin:0}
header .meta{color:#d0d7de;font-size:.85rem}
header form{margin-left:auto}
header button{font:inherit;font-size:.85rem;background:none;color:#fff;border:1px solid #8c959f;border-radius:4px;padding:.15rem .6rem;cursor:pointer}
main{padding:1rem;max-width:80rem;margin:0 auto}
nav.sites{display:flex;flex-wrap:wrap;gap:.4rem;margin-bottom:1rem}
nav.sites a{text-decoration:none;color:inherit;background:#fff;border:1px solid var(--line);border-radius:999px;padding:.15rem .7rem .15rem .5rem;font-size:.9rem}
section.site{background:#fff;border:1px solid var(--line);border-left:6px solid var(--ok);border-radius:6px;padding:.75rem 1rem 1rem;margin-bottom:1.25rem}
section.site.warn{border-left-color:var(--warn)}
section.site.fail{border-left-color:var(--fail)}
section.site h2{font-size:1.2rem;margin:0 0 .2rem;display:flex;flex-wrap:wrap;gap:.5rem;align-items:center;overflow-wrap:anywhere}
.hosts{color:var(--muted);margin:0 0 .75rem;overflow-wrap:anywhere}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(15rem,1fr));gap:.75rem}
.card{border:1px solid var(--line);border-radius:6px;padding:.6rem .75rem;min-width:0}
.card.wide{grid-column:1/-1}
.card h3{font-size:.8rem;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);margin:0 0 .4rem}
.badge{display:inline-block;border-radius:4px;padding:.05rem .45rem;font-size:.8rem;font-weight:600;white-space:nowrap;color:#fff;background:var(--skip)}
.badge.ok{background:var(--ok)}
.badge.warn{background:var(--warn);color:#1f2328}
.badge.fail{background:var(--fail)}
.dot{display:inline-block;width:.6rem;height:.6rem;border-radius:50%;background:var(--ok);margin-right:.35rem}
.dot.warn{background:var(--warn)}
.dot.fail{background:var(--fail)}
table{border-collapse:collapse;width:100%}
th{text-align:left;font-size:.8rem;color:var(--muted);font-weight:600;border-bottom:1px solid var(--line);padding:.25rem .5rem}
td{vertical-align:top;padding:.35rem .5rem;border-bottom:1px solid #eaeef2}
tr.check td:first-child{border-left:4px solid var(--skip);font-weight:600}
tr.check.ok td:first-child{border-left-color:var(--ok)}
tr.check.warn td:first-child{border-left-color:var(--warn)}
tr.check.fail td:first-child{border-left-color:var(--fail)}
tr.check.fail{background:#fff5f5}
td.reason{overflow-wrap:anywhere}
.target{display:block;font-weight:400;font-size:.8rem;color:var(--muted);overflow-wrap:anywhere}
.fix{display:block;color:var(--muted);margin-top:.15rem}
.when,.muted{color:var(--muted);font-size:.85rem}
dl{margin:0;display:grid;grid-template-columns:max-content 1fr;gap:.15rem .75rem}
dt{color:var(--muted)}
dd{margin:0;overflow-wrap:anywhere;font-variant-numeric:tabular-nums}
.err{color:var(--fail);overflow-wrap:anywhere}
.signin{max-width:26rem;margin:3rem auto;background:#fff;border:1px solid var(--line);border-radius:6px;padding:1rem 1.25rem}
.signin input{font:inherit;width:100%;padding:.45rem;border:1px solid #8c959f;border-radius:4px;margin:.25rem 0 .75rem}
.signin button{font:inherit;padding:.4rem 1rem;border:0;border-radius:4px;background:#24292f;color:#fff;cursor:pointer}
.problem{color:var(--fail);font-weight:600}
.inline-result{display:none}
@media (max-width:40rem){
main{padding:.6rem}
section.site{padding:.6rem .6rem .75rem}
table.checks thead{display:none}
table.checks,table.checks tbody,table.checks tr,table.checks td{display:block;width:100%}
table.checks tr{border-bottom:1px solid var(--line);padding:.3rem 0}
table.checks td{border:0;padding:.1rem .5rem}
tr.check td:first-child{display:flex;justify-content:space-between;gap:.5rem}
table.checks td.result{display:none}
table.checks .inline-result{display:inline-block}
}
`
