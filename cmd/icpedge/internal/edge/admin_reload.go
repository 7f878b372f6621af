package edge

import (
	"encoding/json"
	"net/http"
	"slices"
)

// ReloadAnswer is the admin API's answer to POST /reload, as icpedge
// reload reads it.
type ReloadAnswer struct {
	// Reloaded is set when the new config serves, every file of it.
	Reloaded bool `json:"reloaded"`
	// Source is the config file or directory the process reads.
	Source string `json:"source"`
	// Clients are the clients served after the reload.
	Clients []string `json:"clients"`
	// Problems say why the new config, or a client's file, was not
	// taken; Client is empty for a problem of the whole reload.
	Problems []ReloadProblem `json:"problems,omitempty"`
	// Error is set when the reload did not run at all.
	Error string `json:"error,omitempty"`
}

// ReloadProblem is one reason a reload was not taken whole.
type ReloadProblem struct {
	Client  string `json:"client,omitempty"`
	Problem string `json:"problem"`
}

// reloadHandler serves POST /reload: it runs a reload on Run's loop, as
// SIGHUP does, waits for it and answers with its outcome, 200 when the
// new config serves whole and 422 when some or all of it was refused. A
// client that hangs up does not stop a reload that has started.
func (e *Edge) reloadHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ans := ReloadAnswer{Source: e.source}
		status := http.StatusOK
		res, err := e.ReloadReport(r.Context())
		switch {
		case err != nil:
			ans.Error, status = err.Error(), http.StatusServiceUnavailable
		default:
			ans.Reloaded, ans.Clients = res.OK(), res.Clients
			for _, p := range problems(res.Rejected) {
				if p != nil {
					ans.Problems = append(ans.Problems, ReloadProblem{Problem: p.Error()})
				}
			}
			names := make([]string, 0, len(res.Skipped))
			for name := range res.Skipped {
				names = append(names, name)
			}
			slices.Sort(names)
			for _, name := range names {
				for _, p := range problems(res.Skipped[name]) {
					ans.Problems = append(ans.Problems, ReloadProblem{Client: name, Problem: p.Error()})
				}
			}
			if !ans.Reloaded {
				status = http.StatusUnprocessableEntity
			}
		}
		if ans.Clients == nil {
			ans.Clients = []string{}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(ans)
	})
}
