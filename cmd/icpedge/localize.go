package main

import (
	"fmt"

	"github.com/icpedge/icpedge/config"
	"github.com/icpedge/icpedge/rewrite"
)

// localizeRules turns the localize section into the rewriter's rules: the
// instance's own rules first, so that they win over a preset's for the
// same match, then the presets', in the order listed.
func localizeRules(cfg *config.Config) ([]rewrite.LocalizeRule, error) {
	l := cfg.Localize
	var out []rewrite.LocalizeRule
	for _, r := range l.Rules {
		out = append(out, rewrite.LocalizeRule{Match: r.Match, Action: rewrite.Action(r.Action), With: r.With})
	}
	presets, err := rewrite.ExpandPresets(l.Presets, rewrite.PresetOptions{
		FontsCSS:   l.GoogleFontsMirror.CSS,
		FontsFiles: l.GoogleFontsMirror.Files,
		Trackers:   rewrite.Action(l.Trackers),
	})
	if err != nil {
		return nil, fmt.Errorf("%s: localize: %w", cfg.File, err)
	}
	return append(out, presets...), nil
}
