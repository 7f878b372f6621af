package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

func passFail(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}

func encName(enc string) string {
	if enc == "" {
		return "identity"
	}
	return enc
}

// loadLine prints one server's figures: req/s, p50, p99, CPU/req, errors.
func loadLine(t io.Writer, lead string, r *loadResult, tail string) {
	fmt.Fprintf(t, "%s\t%.0f\t%s\t%s\t%s\t%d\t%s\n", lead, r.rps(), ms(r.percentile(50)), ms(r.percentile(99)), us(r.cpuPerRequest()), r.errors, tail)
}

// measured reports whether both results have successful requests.
func measured(a, b *loadResult) bool {
	return a.requests > a.errors && b.requests > b.errors
}

func printHits(w io.Writer, o options, r *hitsReport) []verdict {
	fmt.Fprintf(w, "\n== hits: GET %s from the cache; %d conns; %v per server and client in %d alternating rounds of %v\n",
		r.path, o.Conns, o.Duration, r.rounds, r.round)
	t := newTable(w)
	fmt.Fprintln(t, "client\tserver\tencoding\tbody B\treq/s\tp50\tp99\tCPU/req\terrors\tcache hits")
	var vs []verdict
	pi, ni := r.server("plain"), r.server("nginx")
	for _, row := range r.rows {
		for i, name := range r.servers {
			lead := "\t" + name
			if i == 0 {
				lead = row.kind.name + "\t" + name
			}
			hits := "-"
			if name != "plain" {
				hits = percent(row.res[i].hits, row.res[i].requests-row.res[i].errors)
			}
			loadLine(t, fmt.Sprintf("%s\t%s\t%d", lead, encName(row.encoding[i]), row.bodyLen[i]), &row.res[i], hits)
		}
		edge, plain := &row.res[0], &row.res[pi]
		rps := ratio(edge.rps(), plain.rps())
		p99 := ratio(float64(edge.percentile(99)), float64(plain.percentile(99)))
		ok := measured(edge, plain)
		rpsOK := ok && rps >= targetHitRPS
		p99OK := ok && p99 <= targetHitP99 && edge.errors == 0
		fmt.Fprintf(t, "\tedge/plain\t\t\t%.2fx\t%s\t%.2fx\t%s\t\trps %s (≥ %.2fx), p99 %s (≤ %.2fx)\n",
			rps, ratioText(float64(edge.percentile(50)), float64(plain.percentile(50))), p99,
			ratioText(float64(edge.cpuPerRequest()), float64(plain.cpuPerRequest())), passFail(rpsOK), targetHitRPS, passFail(p99OK), targetHitP99)
		vs = append(vs,
			verdict{name: "hits " + row.kind.name + " req/s edge/plain", got: fmt.Sprintf("%.2fx", rps), want: fmt.Sprintf("≥ %.2fx", targetHitRPS), pass: rpsOK},
			verdict{name: "hits " + row.kind.name + " p99 edge/plain", got: fmt.Sprintf("%.2fx", p99), want: fmt.Sprintf("≤ %.2fx", targetHitP99), pass: p99OK})
		if ni >= 0 {
			ngx := &row.res[ni]
			p99n := ratio(float64(edge.percentile(99)), float64(ngx.percentile(99)))
			p99nOK := measured(edge, ngx) && p99n <= 1 && edge.errors == 0
			fmt.Fprintf(t, "\tedge/nginx\t\t\t%.2fx\t%s\t%.2fx\t%s\t\tp99 %s (≤ 1.00x)\n",
				ratio(edge.rps(), ngx.rps()), ratioText(float64(edge.percentile(50)), float64(ngx.percentile(50))), p99n,
				ratioText(float64(edge.cpuPerRequest()), float64(ngx.cpuPerRequest())), passFail(p99nOK))
			vs = append(vs, verdict{name: "hits " + row.kind.name + " p99 edge/nginx", got: fmt.Sprintf("%.2fx", p99n), want: "≤ 1.00x", pass: p99nOK})
		}
	}
	t.Flush()
	fmt.Fprintf(w, "peak RSS: edge VmHWM %s (largest sampled VmRSS during the load %s); plain VmHWM %s", mib(r.edgeHWM), mib(r.edgeRSSMax), mib(r.plainHWM))
	if ni >= 0 {
		fmt.Fprintf(w, "; nginx VmHWM %s (all its processes)", mib(r.nginxHWM))
	}
	fmt.Fprintf(w, "\norigin requests during the load: %d\n", r.originDuringLoad)
	vs = append(vs, printSizes(w, r.sizes)...)
	printNotes(w, r.notes)
	printFirstErrors(w, r)
	return vs
}

// printSizes prints bytes per hit of the page for each form.
func printSizes(w io.Writer, s *sizesReport) []verdict {
	if s == nil {
		return nil
	}
	fmt.Fprintf(w, "\n== bytes per hit of the same page\n")
	t := newTable(w)
	fmt.Fprintln(t, "form\tbytes\t÷ nginx gzip 1\t÷ nginx gzip 6")
	rel := func(n int) string {
		if s.nginx1 == 0 {
			return "-\t-"
		}
		return fmt.Sprintf("%.2fx\t%.2fx", ratio(float64(n), float64(s.nginx1)), ratio(float64(n), float64(s.nginx6)))
	}
	for _, enc := range []string{"", "gzip", "br"} {
		if n, ok := s.edge[enc]; ok {
			fmt.Fprintf(t, "edge %s\t%d\t%s\n", encName(enc), n, rel(n))
		}
	}
	if s.nginx1 != 0 {
		fmt.Fprintf(t, "nginx gzip level 1\t%d\t%s\n", s.nginx1, rel(s.nginx1))
		fmt.Fprintf(t, "nginx gzip level 6\t%d\t%s\n", s.nginx6, rel(s.nginx6))
	}
	t.Flush()
	if s.compressCPU >= 0 {
		fmt.Fprintf(w, "edge background compression of the stored variants (br and gzip, once per page): %s CPU\n", s.compressCPU.Round(100*time.Microsecond))
	}
	if s.nginx1 == 0 {
		return nil
	}
	br, ok := s.edge["br"]
	got := ratio(float64(br), float64(s.nginx1))
	pass := ok && got <= targetBrBytes
	fmt.Fprintf(w, "edge br ÷ nginx gzip level 1: %.2fx   %s (≤ %.2fx)\n", got, passFail(pass), targetBrBytes)
	return []verdict{{name: "bytes per br hit ÷ nginx gzip 1", got: fmt.Sprintf("%.2fx", got), want: fmt.Sprintf("≤ %.2fx", targetBrBytes), pass: pass}}
}

func printFirstErrors(w io.Writer, r *hitsReport) {
	for _, row := range r.rows {
		for i, res := range row.res {
			if res.firstErr != "" {
				fmt.Fprintf(w, "first %s error (%s client): %s\n", r.servers[i], row.kind.name, res.firstErr)
			}
		}
	}
}

func printMemory(w io.Writer, o options, r *memoryReport) []verdict {
	fmt.Fprintf(w, "\n== memory: %d URLs /p/1…/p/%d cached, then random GETs (plain, gzip, br clients mixed); %d conns; %v\n",
		r.entries, r.entries, o.Conns, o.Duration)
	t := newTable(w)
	fmt.Fprintln(t, "server\tphase\trequests\terrors\ttime\treq/s\tp50\tp99\tcache hits\torigin requests\tlargest VmRSS")
	for _, run := range r.runs {
		fmt.Fprintf(t, "%s\tfill\t%d\t%d\t%s\t%.0f\t%s\t%s\t%s\t%d\t%s\n", run.server, run.fill.requests, run.fill.errors, secs(run.fill.elapsed), run.fill.rps(),
			ms(run.fill.percentile(50)), ms(run.fill.percentile(99)), percent(run.fill.hits, run.fill.requests-run.fill.errors), run.fillOrigin, mib(run.fillRSSMax))
		fmt.Fprintf(t, "\tload\t%d\t%d\t%s\t%.0f\t%s\t%s\t%s\t%d\t%s\n", run.load.requests, run.load.errors, secs(run.load.elapsed), run.load.rps(),
			ms(run.load.percentile(50)), ms(run.load.percentile(99)), percent(run.load.hits, run.load.requests-run.load.errors), run.originDuringLoad, mib(run.loadRSSMax))
	}
	t.Flush()
	var vs []verdict
	edge := r.run("edge")
	fmt.Fprintf(w, "edge: fill responses stored: %d of %d; cache on disk: %s in %d files; Pss at the end %s\n", edge.fillStored, r.entries, mib(edge.diskBytes), edge.diskFiles, mib(edge.pss))
	ok := edge.hwm <= targetPeakRSS
	fmt.Fprintf(w, "edge peak RSS (VmHWM): %s   %s (≤ %s)\n", mib(edge.hwm), passFail(ok), mib(targetPeakRSS))
	vs = append(vs, verdict{name: "memory edge peak RSS", got: mib(edge.hwm), want: "≤ " + mib(targetPeakRSS), pass: ok})
	if ngx := r.run("nginx"); ngx != nil {
		fmt.Fprintf(w, "nginx: cache on disk: %s in %d files; %d processes (master, workers, cache manager) at the end; summed Pss at the end %s\n", mib(ngx.diskBytes), ngx.diskFiles, ngx.procs, mib(ngx.pss))
		ok := edge.hwm > 0 && edge.hwm <= ngx.hwm
		fmt.Fprintf(w, "edge peak RSS (VmHWM) %s ÷ nginx's (VmHWM summed over its processes) %s: %.2fx   %s (≤ 1.00x)\n", mib(edge.hwm), mib(ngx.hwm), ratio(float64(edge.hwm), float64(ngx.hwm)), passFail(ok))
		vs = append(vs, verdict{name: "memory edge peak RSS ÷ nginx", got: fmt.Sprintf("%.2fx", ratio(float64(edge.hwm), float64(ngx.hwm))), want: "≤ 1.00x", pass: ok})
	}
	for _, run := range r.runs {
		if run.fill.firstErr != "" {
			r.notes = append(r.notes, run.server+": first fill error: "+run.fill.firstErr)
		}
		if run.load.firstErr != "" {
			r.notes = append(r.notes, run.server+": first load error: "+run.load.firstErr)
		}
	}
	printNotes(w, r.notes)
	return vs
}

// missTable prints a miss scenario's rows.
func missTable(w io.Writer, r *missesReport) {
	t := newTable(w)
	fmt.Fprintln(t, "client\tserver\tmisses\tmisses/s\tp50\tp99\tCPU/miss\tof it kernel\terrors")
	for _, row := range r.rows {
		for i, name := range r.servers {
			lead := "\t" + name
			if i == 0 {
				lead = row.kind.name + "\t" + name
			}
			res := &row.res[i]
			fmt.Fprintf(t, "%s\t%d\t%.0f\t%s\t%s\t%s\t%s\t%d\n", lead, res.requests, res.rps(), ms(res.percentile(50)), ms(res.percentile(99)), us(res.cpuPerRequest()), us(res.sysPerRequest()), res.errors)
		}
	}
	t.Flush()
}

// printOriginPerURL prints the origin requests the edge's URLs caused:
// exactly one each.
func printOriginPerURL(w io.Writer, r *missesReport) verdict {
	var cs []string
	for _, s := range r.statuses {
		cs = append(cs, fmt.Sprintf("%q ×%d", s.key, s.n))
	}
	fmt.Fprintf(w, "edge Cache-Status: %s\n", strings.Join(cs, ", "))
	ok := r.edgeURLs > 0 && int64(r.originReqs) == r.edgeURLs && r.maxPerURL == 1 && r.unfetched == 0
	fmt.Fprintf(w, "origin requests per URL sent to the edge: %d / %d = %.3f   %s (= 1, each URL once)\n", r.originReqs, r.edgeURLs, r.perURL(), passFail(ok))
	fmt.Fprintf(w, "URLs the origin saw more than once: %d; never: %d; edge VmHWM %s\n", r.overOne, r.unfetched, mib(r.hwm))
	return verdict{name: fmt.Sprintf("origin requests per URL (%d conns)", r.conns), got: fmt.Sprintf("%.3f", r.perURL()), want: "= 1", pass: ok}
}

func printMisses(w io.Writer, r *missesReport) []verdict {
	fmt.Fprintf(w, "\n== misses: never-seen URLs (a 60 KB page each), each sent once; %d conns; %d alternating rounds of %v per server and client\n", r.conns, r.rounds, r.round)
	missTable(w, r)
	var vs []verdict
	if ni := r.server("nginx"); ni >= 0 {
		ei := r.server("edge")
		t := newTable(w)
		fmt.Fprintln(t, "client\tedge/nginx misses/s\tp50\tp99\tCPU/miss\tuser\tkernel")
		for _, row := range r.rows {
			e, n := &row.res[ei], &row.res[ni]
			rps := ratio(e.rps(), n.rps())
			p50 := ratio(float64(e.percentile(50)), float64(n.percentile(50)))
			p99 := ratio(float64(e.percentile(99)), float64(n.percentile(99)))
			ok := measured(e, n) && e.errors == 0
			rpsOK, p50OK, p99OK := ok && rps >= targetMissRPS, ok && p50 <= 1, ok && p99 <= 1
			fmt.Fprintf(t, "%s\t%.2fx %s\t%.2fx %s\t%.2fx %s\t%s\t%s\t%s\n", row.kind.name, rps, passFail(rpsOK), p50, passFail(p50OK), p99, passFail(p99OK),
				ratioText(float64(e.cpuPerRequest()), float64(n.cpuPerRequest())),
				ratioText(float64(e.cpuPerRequest()-e.sysPerRequest()), float64(n.cpuPerRequest()-n.sysPerRequest())),
				ratioText(float64(e.sysPerRequest()), float64(n.sysPerRequest())))
			vs = append(vs,
				verdict{name: "misses " + row.kind.name + " misses/s edge/nginx", got: fmt.Sprintf("%.2fx", rps), want: fmt.Sprintf("≥ %.2fx", targetMissRPS), pass: rpsOK},
				verdict{name: "misses " + row.kind.name + " p50 edge/nginx", got: fmt.Sprintf("%.2fx", p50), want: "≤ 1.00x", pass: p50OK},
				verdict{name: "misses " + row.kind.name + " p99 edge/nginx", got: fmt.Sprintf("%.2fx", p99), want: "≤ 1.00x", pass: p99OK})
		}
		t.Flush()
	}
	vs = append(vs, printOriginPerURL(w, r))
	printNotes(w, r.notes)
	return vs
}

func printSingle(w io.Writer, r *missesReport) []verdict {
	fmt.Fprintf(w, "\n== single: one visitor's misses, one connection, never-seen URLs (a 60 KB page each), against the same requests sent to the origin directly; %d alternating rounds of %v per server and client\n", r.rounds, r.round)
	missTable(w, r)
	oi, ei := r.server("origin"), r.server("edge")
	ni := r.server("nginx")
	var vs []verdict
	for _, row := range r.rows {
		o, e := &row.res[oi], &row.res[ei]
		added := e.percentile(50) - o.percentile(50)
		ok := measured(e, o) && e.errors == 0 && added <= targetSingleAdded
		line := fmt.Sprintf("%s client: edge adds %s at p50 (%s at p99) over the origin directly", row.kind.name, ms(added), ms(e.percentile(99)-o.percentile(99)))
		if ni >= 0 {
			n := &row.res[ni]
			line += fmt.Sprintf("; nginx adds %s (%s)", ms(n.percentile(50)-o.percentile(50)), ms(n.percentile(99)-o.percentile(99)))
		}
		fmt.Fprintf(w, "%s   %s (≤ %s)\n", line, passFail(ok), ms(targetSingleAdded))
		vs = append(vs, verdict{name: "single " + row.kind.name + " miss added p50", got: ms(added), want: "≤ " + ms(targetSingleAdded), pass: ok})
	}
	vs = append(vs, printOriginPerURL(w, r))
	printNotes(w, r.notes)
	return vs
}

func printTargets(w io.Writer, vs []verdict) {
	fmt.Fprintf(w, "\n== targets\n")
	t := newTable(w)
	pass := 0
	for _, v := range vs {
		fmt.Fprintf(t, "%s\t%s\t%s\t%s\n", v.name, v.got, v.want, passFail(v.pass))
		if v.pass {
			pass++
		}
	}
	t.Flush()
	fmt.Fprintf(w, "%d PASS, %d FAIL; load average %s at end\n", pass, len(vs)-pass, loadAverage())
}

func printNotes(w io.Writer, notes []string) {
	for _, n := range notes {
		fmt.Fprintf(w, "anomaly: %s\n", strings.ReplaceAll(n, "\n", "\n    "))
	}
}

// ms formats a latency in milliseconds with three significant digits.
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64) + "ms"
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64) + "ms"
	default:
		return strconv.FormatFloat(v, 'f', 2, 64) + "ms"
	}
}

// us formats a duration in whole microseconds.
func us(d time.Duration) string { return strconv.FormatInt(d.Microseconds(), 10) + "µs" }

func secs(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s" }

func mib(b int64) string { return strconv.FormatFloat(float64(b)/(1<<20), 'f', 1, 64) + " MiB" }

func percent(n, of int64) string {
	if of <= 0 {
		return "-"
	}
	return strconv.FormatFloat(100*float64(n)/float64(of), 'f', 1, 64) + "%"
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func ratioText(a, b float64) string { return fmt.Sprintf("%.2fx", ratio(a, b)) }
