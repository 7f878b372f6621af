package config

// Source is where a process's configs are: one client's File (serve
// --config) or a Dir of clients' files, one process for all (serve
// --config-dir). The commands that check a process's files or reach it
// (validate, reload, purge, warm, check) name it the same way. One of
// File and Dir is set; the zero Source names no config.
type Source struct {
	File string
	Dir  string
}

// Load loads the configs of s: File's one config, whose problems are
// err, or Dir's as LoadDir loads them, a file that does not load in
// broken by client name. The zero Source loads nothing.
func (s Source) Load() (cfgs []*Config, broken map[string]error, err error) {
	switch {
	case s.File != "":
		cfg, err := Load(s.File)
		if err != nil {
			return nil, nil, err
		}
		return []*Config{cfg}, nil, nil
	case s.Dir != "":
		return LoadDir(s.Dir)
	}
	return nil, nil, nil
}

// LoadChecked is Load, then CheckFiles on every config, as serve loads
// them: File's unusable named files are err; a client of Dir whose named
// files are unusable is in broken, as one whose file does not load. So
// validate and serve report a missing or broken file the same way, at
// its key's line, before anything starts.
func (s Source) LoadChecked() (cfgs []*Config, broken map[string]error, err error) {
	all, broken, err := s.Load()
	if err != nil {
		return nil, nil, err
	}
	for _, cfg := range all {
		if err := cfg.CheckFiles(); err != nil {
			if s.File != "" {
				return nil, nil, err
			}
			broken[cfg.Name()] = err
			continue
		}
		cfgs = append(cfgs, cfg)
	}
	return cfgs, broken, nil
}
