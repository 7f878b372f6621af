package compliance

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// TestParseDomainHostile: answers that are not what RDAP promises give an
// error or leave the member out, never a panic or a made-up value.
func TestParseDomainHostile(t *testing.T) {
	tests := []struct {
		name, doc string
		err       string // "" when it parses
		check     func(registration) bool
	}{
		{"null", `null`, "the answer is not a JSON object", nil},
		{"array", `[{"objectClassName":"domain"}]`, "the answer is not a JSON object", nil},
		{"truncated", `{"objectClassName":"domain","status":["act`, "the answer is not JSON", nil},
		{"another object", `{"objectClassName":"nameserver"}`, "the answer is a nameserver object, not a domain", nil},
		{"status not a list", `{"status":"client hold","events":[{"eventAction":"expiration","eventDate":"2030-01-02T00:00:00Z"}]}`, "",
			func(r registration) bool { return r.statuses == nil && r.expires.Year() == 2030 }},
		{"event date not a string", `{"events":[{"eventAction":"expiration","eventDate":20300102}]}`, "",
			func(r registration) bool { return r.expires.IsZero() }},
		{"unparsable date", `{"events":[{"eventAction":"expiration","eventDate":"soon"}]}`, "",
			func(r registration) bool { return r.expires.IsZero() }},
		{"date without zone", `{"events":[{"eventAction":"Expiration","eventDate":"2030-01-02T03:04:05"}]}`, "",
			func(r registration) bool { return r.expires.Format("2006-01-02 15:04") == "2030-01-02 03:04" }},
		{"vcard shapes", `{"entities":[{"roles":["registrar"],"handle":"H","vcardArray":["vcard",[["fn"],["fn",{},"text",7],["adr","x","text",[1,2]],["adr",{"cc":5},"text",["","","","","","",["中华人民共和国"]]]]]}]}`, "",
			func(r registration) bool { return r.name == "H" && r.country == "CN" }},
		{"vcard not an array", `{"entities":[{"roles":["registrar"],"vcardArray":{"fn":"x"}}]}`, "",
			func(r registration) bool { return r.name == "" && r.country == "" }},
		{"roles not a list", `{"entities":[{"roles":"registrar","handle":"H"}]}`, "",
			func(r registration) bool { return r.name == "" }},
		{"control characters", "{\"status\":[\"client\\u0000Hold\\n\"],\"entities\":[{\"roles\":[\"registrar\"],\"vcardArray\":[\"vcard\",[[\"fn\",{},\"text\",\"Evil\\r\\nlevel=ERROR msg=x\\u202e\"]]]}]}", "",
			func(r registration) bool {
				return slices.Equal(r.statuses, []string{"client hold"}) && r.name == "Evil level=ERROR msg=x"
			}},
		{"long name", `{"entities":[{"roles":["registrar"],"handle":"` + strings.Repeat("名", 5000) + `"}]}`, "",
			func(r registration) bool { return utf8.RuneCountInString(r.name) == maxShown }},
		{"many statuses", `{"status":[` + strings.Repeat(`"client hold",`, 1000) + `"active"]}`, "",
			func(r registration) bool { return len(r.statuses) == maxStatuses }},
		{"deep nesting", `{"entities":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}`, "",
			func(r registration) bool { return r.name == "" }},
		{"related links", `{"links":[{"rel":"related","href":"https://r.example/domain/x.com","type":"application/rdap+json"},{"rel":"related","href":"https://r.example/whois","type":"text/html"},{"rel":"related","href":"https://r.example/domain/y.com"},{"rel":"self","href":"https://x/domain/x.com","type":"application/rdap+json"}]}`, "",
			func(r registration) bool {
				return slices.Equal(r.related, []string{"https://r.example/domain/x.com", "https://r.example/domain/y.com"})
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := parseDomain([]byte(tt.doc))
			switch {
			case tt.err != "":
				if err == nil || err.Error() != tt.err {
					t.Errorf("got error %v; want %q", err, tt.err)
				}
			case err != nil:
				t.Errorf("got error %v; want it parsed", err)
			case !tt.check(r):
				t.Errorf("got %+v", r)
			}
		})
	}
}

func TestNormalizeStatus(t *testing.T) {
	for in, want := range map[string]string{
		"clientHold": "client hold", "serverHold": "server hold", "pendingDelete": "pending delete",
		"redemptionPeriod": "redemption period", "pending_transfer": "pending transfer", "Client Hold": "client hold",
		" active ": "active", "ok": "ok",
	} {
		if got := normalizeStatus(in); got != want {
			t.Errorf("normalizeStatus(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestParseBootstrapHostile(t *testing.T) {
	for _, doc := range []string{
		``, `null`, `{"version":"2.0","services":[[["cn"],["https://x/"]]]}`, `{"version":"1.0","services":[]}`,
		`{"version":"1.0","services":[[["cn"]]]}`, `{"version":"1.0","services":"x"}`, `{"version":"1.0","services":[[["cn"],[1]]]}`,
	} {
		if b, err := parseBootstrap([]byte(doc)); err == nil {
			t.Errorf("parseBootstrap(%q) = %v; want an error", doc, b.servers)
		}
	}
	b, err := parseBootstrap([]byte(`{"version":"1.0","services":[[["CN.", "com.cn"],["https://a/"]],[["cn"],["https://b/"]]]}`))
	if err != nil {
		t.Fatal(err)
	}
	if urls, s := b.lookup("client.com.cn"); s != "com.cn" || !slices.Equal(urls, []string{"https://a/"}) {
		t.Errorf("lookup(client.com.cn) = %q, %q; want the longest match, com.cn", urls, s)
	}
	if urls, _ := b.lookup("held.cn"); !slices.Equal(urls, []string{"https://a/", "https://b/"}) {
		t.Errorf("lookup(held.cn) = %q; want both services' URLs", urls)
	}
}

// fixtureSeeds returns rdaptest's documents, their template actions
// filled in.
func fixtureSeeds(tb testing.TB, glob ...string) [][]byte {
	files, err := filepath.Glob(filepath.Join(append([]string{"rdaptest", "testdata"}, glob...)...))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no fixtures: %v", err)
	}
	action := regexp.MustCompile(`\{\{days -?[0-9]+\}\}|\{\{\.Base\}\}|\{\{\.Host\}\}`)
	var out [][]byte
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, action.ReplaceAllFunc(b, func(a []byte) []byte {
			if bytes.HasPrefix(a, []byte("{{days")) {
				return []byte("2030-01-02T03:04:05Z")
			}
			return []byte("https://rdap.example")
		}))
	}
	return out
}

// FuzzParseDomain: whatever the bytes, no panic, and what is taken from
// them is bounded and safe to print on one line.
func FuzzParseDomain(f *testing.F) {
	for _, b := range fixtureSeeds(f, "*", "*.json") {
		f.Add(b)
	}
	f.Add([]byte(`{"status":["clientHold"],"entities":[{"roles":["registrar"],"vcardArray":["vcard",[["adr",{"cc":"cn"},"text",["","","","","","",""]]]]}]}`))
	f.Add([]byte(`{"events":[{"eventAction":"expiration","eventDate":"2030-01-02"}],"links":[{"rel":"related","href":"/domain/x"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := parseDomain(data)
		if err != nil {
			return
		}
		if len(r.statuses) > maxStatuses || len(r.related) > maxRelated {
			t.Fatalf("%d statuses, %d related links: unbounded", len(r.statuses), len(r.related))
		}
		for _, s := range append(slices.Clone(r.statuses), r.name, r.ianaID, r.country) {
			if utf8.RuneCountInString(s) > maxShown || strings.ContainsFunc(s, unicode.IsControl) || s != strings.TrimSpace(s) {
				t.Fatalf("unsafe text %q", s)
			}
		}
		for _, s := range r.statuses {
			if s == "" || s != strings.ToLower(s) {
				t.Fatalf("status %q not normalized", s)
			}
		}
	})
}

// FuzzParseBootstrap: no panic, and a file that parses answers lookups.
func FuzzParseBootstrap(f *testing.F) {
	for _, b := range fixtureSeeds(f, "bootstrap.json") {
		f.Add(b)
	}
	f.Add([]byte(`{"version":"1.0","services":[[["cn"],["https://a/"]]]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := parseBootstrap(data)
		if err != nil {
			return
		}
		b.lookup("icp.client.com.cn")
		b.lookup("")
	})
}

// TestFixturesParse keeps the fuzz seeds meaningful: each fixture is a
// domain the parser reads fully.
func TestFixturesParse(t *testing.T) {
	for _, b := range fixtureSeeds(t, "*", "*.json") {
		r, err := parseDomain(b)
		if err != nil || r.expires.IsZero() || len(r.statuses) == 0 || (r.name == "" && r.ianaID == "") {
			t.Errorf("%v %+v from\n%.200s", err, r, b)
		}
	}
}
