package compliance

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"time"
	"unicode"
)

// registration is what the domain checks learn of one domain from RDAP.
type registration struct {
	expires  time.Time // the expiration event; zero when none was given
	statuses []string  // RFC 9083 §10.2.2 values, normalized: "client hold"
	registrar
	// related are the hrefs of the answer's "related" links to other RDAP
	// documents (RFC 9083 §4.2): at a registry, the registrar's answer.
	related []string
}

// registrar is the entity with the registrar role (RFC 9083 §10.2.4).
type registrar struct {
	name    string // its vCard fn, or its handle
	ianaID  string // its "IANA Registrar ID" public ID
	country string // ISO 3166 code when known ("CN"), else the name given
}

// thin reports whether a registry's answer leaves out what the checks
// need, so that the registrar's own answer is worth asking for.
func (r registration) thin() bool {
	return r.expires.IsZero() || r.name == "" || r.country == ""
}

// fill completes r with what r lacks and o has. r's own values win: a
// registry is authoritative for the expiry and status it holds.
func (r *registration) fill(o registration) {
	if r.expires.IsZero() {
		r.expires = o.expires
	}
	if len(r.statuses) == 0 {
		r.statuses = o.statuses
	}
	if r.name == "" {
		r.name = o.name
	}
	if r.ianaID == "" {
		r.ianaID = o.ianaID
	}
	if r.country == "" {
		r.country = o.country
	}
}

// The parts of an RDAP domain object (RFC 9083 §5.3) that are read. The
// rest is skipped by the decoder.
type rdapDomain struct {
	ObjectClassName string       `json:"objectClassName"`
	Status          []string     `json:"status"`
	Events          []rdapEvent  `json:"events"`
	Entities        []rdapEntity `json:"entities"`
	Links           []rdapLink   `json:"links"`
}

type rdapEvent struct {
	Action string `json:"eventAction"`
	Date   string `json:"eventDate"`
}

type rdapEntity struct {
	Handle    string          `json:"handle"`
	Roles     []string        `json:"roles"`
	VCard     json.RawMessage `json:"vcardArray"`
	PublicIDs []struct {
		Type       string `json:"type"`
		Identifier string `json:"identifier"`
	} `json:"publicIds"`
}

type rdapLink struct {
	Rel  string `json:"rel"`
	Href string `json:"href"`
	Type string `json:"type"`
}

// Bounds on what is taken from an answer, whatever it holds.
const (
	maxStatuses = 20
	maxRelated  = 4
	maxShown    = 100 // runes of a name or status shown
)

// parseDomain reads an RDAP domain object. A member of the wrong JSON type
// is left out rather than failing the whole answer: what is left out is
// then missing, and a check that needs it is skipped, never passed.
func parseDomain(data []byte) (registration, error) {
	if !bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("{")) {
		return registration{}, errors.New("the answer is not a JSON object")
	}
	var d rdapDomain
	if err := json.Unmarshal(data, &d); err != nil {
		var te *json.UnmarshalTypeError
		if !errors.As(err, &te) {
			return registration{}, errors.New("the answer is not JSON")
		}
	}
	if d.ObjectClassName != "" && d.ObjectClassName != "domain" {
		return registration{}, errors.New("the answer is a " + clean(d.ObjectClassName) + " object, not a domain")
	}
	var r registration
	for _, s := range d.Status {
		if len(r.statuses) == maxStatuses {
			break
		}
		if s = normalizeStatus(s); s != "" {
			r.statuses = append(r.statuses, s)
		}
	}
	r.expires = eventDate(d.Events, "expiration")
	if r.expires.IsZero() {
		// A registrar's answer may give only its own date.
		r.expires = eventDate(d.Events, "registrar expiration")
	}
	for _, e := range d.Entities {
		if hasRole(e.Roles, "registrar") {
			r.registrar = parseRegistrar(e)
			break
		}
	}
	for _, l := range d.Links {
		if len(r.related) == maxRelated {
			break
		}
		if !strings.EqualFold(l.Rel, "related") || l.Href == "" {
			continue
		}
		// RFC 9083 §4.2: type names the media type of the target; a
		// link without one is taken when it names a domain lookup.
		mt := strings.ToLower(strings.TrimSpace(strings.Split(l.Type, ";")[0]))
		if mt == "application/rdap+json" || (mt == "" && strings.Contains(l.Href, "/domain/")) {
			r.related = append(r.related, l.Href)
		}
	}
	return r, nil
}

// eventDate returns the date of the first event with action, or zero.
func eventDate(events []rdapEvent, action string) time.Time {
	for _, e := range events {
		if !strings.EqualFold(strings.TrimSpace(e.Action), action) {
			continue
		}
		if t, ok := parseEventDate(e.Date); ok {
			return t
		}
	}
	return time.Time{}
}

// parseEventDate reads an RFC 3339 date (RFC 9083 §4.5), and the forms
// without a zone or time that some servers send, taken as UTC.
func parseEventDate(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

func hasRole(roles []string, role string) bool {
	for _, r := range roles {
		if strings.EqualFold(strings.TrimSpace(r), role) {
			return true
		}
	}
	return false
}

// parseRegistrar reads the registrar's name, IANA ID and country.
func parseRegistrar(e rdapEntity) registrar {
	var r registrar
	for _, id := range e.PublicIDs {
		if strings.EqualFold(strings.TrimSpace(id.Type), "IANA Registrar ID") {
			r.ianaID = clean(id.Identifier)
			break
		}
	}
	r.name, r.country = parseVCard(e.VCard)
	if r.name == "" {
		r.name = clean(e.Handle)
	}
	return r
}

// parseVCard reads the formatted name and the country of a jCard
// (RFC 7095): ["vcard", [[name, params, type, value...], ...]].
func parseVCard(raw json.RawMessage) (name, country string) {
	var top []json.RawMessage
	if json.Unmarshal(raw, &top) != nil || len(top) != 2 {
		return "", ""
	}
	var props []json.RawMessage
	if json.Unmarshal(top[1], &props) != nil {
		return "", ""
	}
	for _, p := range props {
		var prop []json.RawMessage
		if json.Unmarshal(p, &prop) != nil || len(prop) < 4 {
			continue
		}
		var pname string
		if json.Unmarshal(prop[0], &pname) != nil {
			continue
		}
		switch strings.ToLower(pname) {
		case "fn":
			var v string
			if name == "" && json.Unmarshal(prop[3], &v) == nil {
				name = clean(v)
			}
		case "adr":
			if country == "" {
				country = adrCountry(prop[1], prop[3])
			}
		}
	}
	return name, country
}

// adrCountry reads the country of a jCard adr property: its "cc"
// parameter (RFC 8605 §3.1), else the country name, the last of the seven
// parts of its value (RFC 6350 §6.3.1).
func adrCountry(params, value json.RawMessage) string {
	var ps map[string]json.RawMessage
	if json.Unmarshal(params, &ps) == nil {
		var cc string
		if json.Unmarshal(ps["cc"], &cc) == nil {
			if c := countryCode(cc); c != "" {
				return c
			}
		}
	}
	var parts []json.RawMessage
	if json.Unmarshal(value, &parts) != nil || len(parts) != 7 {
		return ""
	}
	var s string
	if json.Unmarshal(parts[6], &s) != nil {
		var ss []string
		if json.Unmarshal(parts[6], &ss) != nil || len(ss) == 0 {
			return ""
		}
		s = ss[0]
	}
	if c := countryCode(s); c != "" {
		return c
	}
	return clean(s)
}

// chinaNames are the ways registrars write mainland China's name.
var chinaNames = []string{
	"cn", "chn", "china", "prc", "p.r.c.", "p.r. china", "p.r.china", "pr china", "people's republic of china",
	"the people's republic of china", "peoples republic of china", "china mainland", "mainland china",
	"中国", "中华人民共和国", "中国大陆",
}

// countryCode returns the ISO 3166 code a country is written as: a
// two-letter code upper-cased, "CN" for China's names, or "".
func countryCode(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	for _, n := range chinaNames {
		if strings.EqualFold(s, n) {
			return "CN"
		}
	}
	if len(s) == 2 && isLetter(s[0]) && isLetter(s[1]) {
		return strings.ToUpper(s)
	}
	return ""
}

func isLetter(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }

// normalizeStatus writes an RDAP status value as RFC 9083 §10.2.2 does,
// also from the EPP forms some servers send ("clientHold",
// "pending_delete"): lower case, words apart.
func normalizeStatus(s string) string {
	var b strings.Builder
	prevLower := false
	for _, r := range s {
		switch {
		case r == '_' || r == '-' || unicode.IsSpace(r):
			b.WriteByte(' ')
			prevLower = false
			continue
		case unicode.IsUpper(r) && prevLower:
			b.WriteByte(' ')
		}
		b.WriteRune(unicode.ToLower(r))
		prevLower = unicode.IsLower(r)
	}
	return clean(b.String())
}

// clean makes text from an answer safe to show on one line of a table or
// a log: control characters dropped, spaces collapsed, at most maxShown
// runes.
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == unicode.ReplacementChar || unicode.Is(unicode.Cf, r) {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > maxShown {
		s = string(r[:maxShown-1]) + "…"
	}
	return s
}

// bootstrap is an RDAP bootstrap file for domain names (RFC 9224 §4): the
// base URLs of the RDAP servers for each domain suffix.
type bootstrap struct {
	servers     map[string][]string // lower-case suffix → base URLs
	publication string
}

// maxBootstrapBytes bounds the bootstrap file (IANA's is about 50 KB).
const maxBootstrapBytes = 4 << 20

// parseBootstrap reads a bootstrap file strictly: a file that does not
// parse as one must not replace a good copy.
func parseBootstrap(data []byte) (*bootstrap, error) {
	var f struct {
		Version     string       `json:"version"`
		Publication string       `json:"publication"`
		Services    [][][]string `json:"services"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, errors.New("not an RDAP bootstrap file (RFC 9224): " + err.Error())
	}
	// RFC 9224 §4: version "1.0"; a later major version may not be read
	// the same way.
	if f.Version != "1.0" {
		return nil, errors.New("not an RDAP bootstrap file version 1.0 (RFC 9224 §4)")
	}
	b := &bootstrap{servers: map[string][]string{}, publication: clean(f.Publication)}
	for _, svc := range f.Services {
		if len(svc) != 2 {
			continue
		}
		for _, entry := range svc[0] {
			e := strings.ToLower(strings.Trim(strings.TrimSpace(entry), "."))
			if e != "" {
				b.servers[e] = append(b.servers[e], svc[1]...)
			}
		}
	}
	if len(b.servers) == 0 {
		return nil, errors.New("the RDAP bootstrap file lists no services")
	}
	return b, nil
}

// lookup returns the base URLs for domain by the longest matching suffix
// (RFC 9224 §4), and the suffix.
func (b *bootstrap) lookup(domain string) (urls []string, suffix string) {
	for s := domain; ; {
		if u, ok := b.servers[s]; ok {
			return u, s
		}
		i := strings.IndexByte(s, '.')
		if i < 0 {
			return nil, ""
		}
		s = s[i+1:]
	}
}
