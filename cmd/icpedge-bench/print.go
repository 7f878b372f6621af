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

func printHits(w io.Writer, o options, r *hitsReport) []verdict {
	fmt.Fprintf(w, "\n== hits: GET %s from the cache; %d conns; %v per server and client in %d alternating rounds of %v\n",
		r.path, o.Conns, o.Duration, r.rounds, r.round)
	t := newTable(w)
	fmt.Fprintln(t, "client\tencoding\tbody B\tserver\treq/s\tp50\tp99\tCPU/req\terrors\tcache hits")
	var vs []verdict
	for _, row := range r.rows {
		enc := row.kind.encoding
		if enc == "" {
			enc = "identity"
		}
		fmt.Fprintf(t, "%s\t%s\t%d\tedge\t%.0f\t%s\t%s\t%s\t%d\t%s\n", row.kind.name, enc, row.bodyLen,
			row.edge.rps(), ms(row.edge.percentile(50)), ms(row.edge.percentile(99)), us(row.edge.cpuPerRequest()), row.edge.errors, percent(row.edge.hits, row.edge.requests-row.edge.errors))
		fmt.Fprintf(t, "\t\t\tplain\t%.0f\t%s\t%s\t%s\t%d\t-\n",
			row.plain.rps(), ms(row.plain.percentile(50)), ms(row.plain.percentile(99)), us(row.plain.cpuPerRequest()), row.plain.errors)
		rps := ratio(row.edge.rps(), row.plain.rps())
		p99 := ratio(float64(row.edge.percentile(99)), float64(row.plain.percentile(99)))
		measured := row.edge.requests > row.edge.errors && row.plain.requests > row.plain.errors
		rpsOK := measured && rps >= targetHitRPS
		p99OK := measured && p99 <= targetHitP99 && row.edge.errors == 0
		fmt.Fprintf(t, "\t\t\tedge/plain\t%.2fx\t%s\t%.2fx\t%s\t\trps %s (≥ %.2fx), p99 %s (≤ %.2fx)\n",
			rps, ratioText(float64(row.edge.percentile(50)), float64(row.plain.percentile(50))), p99,
			ratioText(float64(row.edge.cpuPerRequest()), float64(row.plain.cpuPerRequest())), passFail(rpsOK), targetHitRPS, passFail(p99OK), targetHitP99)
		vs = append(vs,
			verdict{name: "hits " + row.kind.name + " req/s edge/plain", got: fmt.Sprintf("%.2fx", rps), want: fmt.Sprintf("≥ %.2fx", targetHitRPS), pass: rpsOK},
			verdict{name: "hits " + row.kind.name + " p99 edge/plain", got: fmt.Sprintf("%.2fx", p99), want: fmt.Sprintf("≤ %.2fx", targetHitP99), pass: p99OK})
	}
	t.Flush()
	fmt.Fprintf(w, "peak RSS: edge VmHWM %s (largest sampled VmRSS during the load %s); plain VmHWM %s\n", mib(r.edgeHWM), mib(r.edgeRSSMax), mib(r.plainHWM))
	fmt.Fprintf(w, "origin requests during the load: %d\n", r.originDuringLoad)
	printNotes(w, r.notes)
	printFirstErrors(w, r)
	return vs
}

func printFirstErrors(w io.Writer, r *hitsReport) {
	for _, row := range r.rows {
		if row.edge.firstErr != "" {
			fmt.Fprintf(w, "first edge error (%s client): %s\n", row.kind.name, row.edge.firstErr)
		}
		if row.plain.firstErr != "" {
			fmt.Fprintf(w, "first plain error (%s client): %s\n", row.kind.name, row.plain.firstErr)
		}
	}
}

func printMemory(w io.Writer, o options, r *memoryReport) []verdict {
	fmt.Fprintf(w, "\n== memory: %d URLs /p/1…/p/%d cached, then random GETs (plain, gzip, br clients mixed); %d conns; %v\n",
		r.entries, r.entries, o.Conns, o.Duration)
	t := newTable(w)
	fmt.Fprintln(t, "phase\trequests\terrors\ttime\treq/s\tp50\tp99\tcache hits\torigin requests\tlargest VmRSS")
	fmt.Fprintf(t, "fill\t%d\t%d\t%s\t%.0f\t%s\t%s\t%s\t%d\t%s\n", r.fill.requests, r.fill.errors, secs(r.fill.elapsed), r.fill.rps(),
		ms(r.fill.percentile(50)), ms(r.fill.percentile(99)), percent(r.fill.hits, r.fill.requests-r.fill.errors), r.fillOrigin, mib(r.fillRSSMax))
	fmt.Fprintf(t, "load\t%d\t%d\t%s\t%.0f\t%s\t%s\t%s\t%d\t%s\n", r.load.requests, r.load.errors, secs(r.load.elapsed), r.load.rps(),
		ms(r.load.percentile(50)), ms(r.load.percentile(99)), percent(r.load.hits, r.load.requests-r.load.errors), r.originDuringLoad, mib(r.loadRSSMax))
	t.Flush()
	fmt.Fprintf(w, "fill responses stored: %d of %d; cache on disk: %s in %d files\n", r.fillStored, r.entries, mib(r.diskBytes), r.diskFiles)
	ok := r.hwm <= targetPeakRSS
	fmt.Fprintf(w, "edge peak RSS (VmHWM): %s   %s (≤ %s)\n", mib(r.hwm), passFail(ok), mib(targetPeakRSS))
	printNotes(w, r.notes)
	return []verdict{{name: "memory edge peak RSS", got: mib(r.hwm), want: "≤ " + mib(targetPeakRSS), pass: ok}}
}

func printMisses(w io.Writer, o options, r *missesReport) []verdict {
	fmt.Fprintf(w, "\n== misses: %d never-seen URLs, each sent once (plain, gzip, br clients in turn); %d conns\n", r.unique, o.Conns)
	t := newTable(w)
	fmt.Fprintln(t, "requests\terrors\ttime\tmisses/s\tp50\tp99")
	fmt.Fprintf(t, "%d\t%d\t%s\t%.1f\t%s\t%s\n", r.res.requests, r.res.errors, secs(r.res.elapsed), r.res.rps(), ms(r.res.percentile(50)), ms(r.res.percentile(99)))
	t.Flush()
	var cs []string
	for _, s := range r.statuses {
		cs = append(cs, fmt.Sprintf("%q ×%d", s.key, s.n))
	}
	fmt.Fprintf(w, "Cache-Status: %s\n", strings.Join(cs, ", "))
	ok := r.perURL() <= targetOriginPerM && r.originReqs > 0
	fmt.Fprintf(w, "origin requests per unique URL: %d / %d = %.3f   %s (≤ %.1f)\n", r.originReqs, r.unique, r.perURL(), passFail(ok), targetOriginPerM)
	fmt.Fprintf(w, "URLs the origin saw: %d; seen more than once: %d; most for one URL: %d; edge VmHWM %s\n", r.fetched, r.overOne, r.maxPerURL, mib(r.hwm))
	printNotes(w, r.notes)
	return []verdict{{name: "misses origin requests per URL", got: fmt.Sprintf("%.3f", r.perURL()), want: fmt.Sprintf("≤ %.1f", targetOriginPerM), pass: ok}}
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
		fmt.Fprintf(w, "edge anomaly: %s\n", strings.ReplaceAll(n, "\n", "\n    "))
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
