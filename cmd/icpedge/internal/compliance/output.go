package compliance

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteTable writes the report as a table for people: one line per check,
// and under each failure what is wrong and how to fix it.
func (r Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	multi := false
	for _, x := range r.Results {
		multi = multi || x.Config != ""
	}
	if multi {
		fmt.Fprintln(tw, "CONFIG\tSITE\tCHECK\tRESULT\tDETAIL")
	} else {
		fmt.Fprintln(tw, "SITE\tCHECK\tRESULT\tDETAIL")
	}
	for _, x := range r.Results {
		status := string(x.Status)
		if x.Status == Fail || x.Status == Warn {
			status = strings.ToUpper(status)
		}
		row := []string{x.Site, x.Check, status, oneLine(x.Detail)}
		if multi {
			row = append([]string{x.Config}, row...)
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
		if (x.Status == Fail || x.Status == Warn) && x.Fix != "" {
			pad := "\t\t\t"
			if multi {
				pad += "\t"
			}
			fmt.Fprintln(tw, pad+"fix: "+oneLine(x.Fix))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	verdict := "ok"
	if !r.OK {
		verdict = "problems found"
	}
	_, err := fmt.Fprintf(w, "\n%s: %d checks, %d problems, %d warnings, %d skipped\n", verdict, len(r.Results), r.Problems, r.Warnings, r.Skipped)
	return err
}

// WriteJSON writes the report as one JSON object.
func (r Report) WriteJSON(w io.Writer) error {
	if r.Results == nil {
		r.Results = []Result{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
