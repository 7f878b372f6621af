package main

import (
	"runtime/debug"
	"testing"
)

func TestRevision(t *testing.T) {
	for _, tt := range []struct {
		settings []debug.BuildSetting
		want     string
	}{
		{nil, "unknown"},
		{[]debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.modified", Value: "false"}}, "0123abcd"},
		{[]debug.BuildSetting{{Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.modified", Value: "true"}}, "0123abcd (modified)"},
	} {
		if got := revision(tt.settings); got != tt.want {
			t.Errorf("revision(%v): got %q; want %q", tt.settings, got, tt.want)
		}
	}
}
