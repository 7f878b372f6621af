package cache

import (
	"net/http"
	"reflect"
	"strings"
	"time"
)

// Rule forces a freshness lifetime on responses whose request path starts
// with Prefix (a plain string prefix: "/static" also matches
// "/static-old/x"; end it with "/" to mean a directory).
type Rule struct {
	Prefix string
	// Type, when set, limits the rule to responses of one media type
	// ("text/html") or top-level type ("image/*"), lower-case, matched
	// on the response's Content-Type without its parameters. Empty: any
	// type.
	Type string
	TTL  time.Duration
	// OverridePrivate lets the rule store responses marked private or
	// no-store as well, for origins that send them on every page (PHP's
	// session default, "no-store, no-cache, must-revalidate"). Without
	// it such responses follow RFC 9111 and are never stored.
	OverridePrivate bool
}

// Policy holds icpedge's caching policy on top of RFC 9111. The zero
// Policy is plain RFC 9111 for a shared cache plus icpedge's fixed rule
// that a response carrying Set-Cookie is never stored.
//
// # Forced rules
//
// A Rule (longest matching Prefix wins, then a rule with a Type over one
// without) makes a response storable and fresh for its TTL whatever the
// origin's Cache-Control, Expires or Pragma say about revalidation:
// no-cache, must-revalidate, max-age=0 and an absent freshness are all
// overridden, because origins such as WordPress send no freshness on
// their pages and forcing is the operator's deliberate choice. private and
// no-store are overridden only when the rule says OverridePrivate. Request
// directives (no-cache, max-age, min-fresh, as sent by a browser's reload
// button) are ignored for forced entries too, so a reload cannot pull
// every visitor's request across the border link.
//
// A rule is safe by construction: it never applies where there is a sign
// of a personal response, and the plain RFC 9111 rules (with the cookie
// rule below) decide instead:
//   - Authorization in the request (RFC 9111 §3.5 decides, and a response
//     that does not let a shared cache reuse it for such requests is not
//     stored with the reason ReasonAuthorization);
//   - a session cookie in the request (SessionCookie, the proxy's bypass
//     list: a logged-in visitor's page, such as WordPress's admin bar);
//   - Set-Cookie in the response (never stored, forced or not);
//   - private or no-store in the response, unless OverridePrivate; and
//     even then not for a request carrying any Cookie;
//   - request no-store, and Vary: *;
//   - a targeted field in the response (see Targeted fields below).
//
// # Requests with cookies
//
// Without a rule, a response to a request carrying Cookie is stored only
// when the origin allows it explicitly: public, s-maxage, or a positive
// max-age or Expires (besides no private and no Set-Cookie, as for every
// response). A page that merely lacks Cache-Control may be personal: it
// must not be kept with zero or heuristic freshness, to be served to
// someone else later as a stale copy when the origin fails.
//
// A rule applies only to 200, 203, 204, 300, 301 and 308 responses; other
// statuses (a 404 during a deploy, a 5xx) follow the plain RFC rules.
//
// # Targeted fields
//
// A response with a valid targeted field (RFC 9213: Targeted, else
// CDN-Cache-Control) is judged by that field's directives alone, its
// Cache-Control and Expires ignored (§2.1). It is the origin speaking to
// its CDN, which this cache is, so no rule overrides it either: rules are
// for origins that don't say what a CDN should do.
type Policy struct {
	// Rules force a TTL by path prefix. Default none.
	Rules []Rule
	// SessionCookie reports whether a request's header carries a
	// visitor's session cookie; no rule applies to such a request. Nil:
	// none does.
	SessionCookie func(http.Header) bool
	// StaleIfError is how long past its freshness a stored response may
	// be served when the origin fails, even without the origin's
	// stale-if-error directive (RFC 5861 §4); the larger of the two
	// applies. Zero: only the origin's directive. Never applies to
	// responses with must-revalidate, proxy-revalidate, s-maxage or
	// no-cache, unless forced.
	StaleIfError time.Duration
	// StaleWhileRevalidate is how long past its freshness a stored
	// response may be served while it is refreshed in the background
	// (RFC 5861 §3); the larger of this and the origin's directive
	// applies. Zero: only the origin's directive.
	StaleWhileRevalidate time.Duration
	// HeuristicMax caps heuristic freshness (RFC 9111 §4.2.2). Zero means
	// DefaultHeuristicMax (one day); negative turns heuristic freshness
	// off.
	HeuristicMax time.Duration
	// Targeted names a targeted field (RFC 9213 §2), such as
	// "ICPEdge-Cache-Control", obeyed before CDN-Cache-Control, which is
	// always obeyed. Empty: CDN-Cache-Control alone. See TargetList.
	Targeted string
}

// forcedStatus lists the statuses a forced rule may apply to.
func forcedStatus(code int) bool {
	switch code {
	case 200, 203, 204, 300, 301, 308:
		return true
	}
	return false
}

// Match returns the rule for a response of Content-Type ctype to a
// request for path, if any: of the rules whose prefix path starts with
// and whose type (if any) ctype is, the one with the longest prefix, a
// rule with a type before one without, the first of equals.
func (p Policy) Match(path, ctype string) (Rule, bool) {
	var best Rule
	found := false
	mt := ""
	for _, r := range p.Rules {
		if !strings.HasPrefix(path, r.Prefix) {
			continue
		}
		if r.Type != "" {
			if mt == "" {
				mt = mediaType(ctype)
			}
			if !typeMatches(r.Type, mt) {
				continue
			}
		}
		if !found || len(r.Prefix) > len(best.Prefix) || len(r.Prefix) == len(best.Prefix) && r.Type != "" && best.Type == "" {
			best, found = r, true
		}
	}
	return best, found
}

// mediaType returns a Content-Type's media type, lower-case, without
// parameters.
func mediaType(ctype string) string {
	mt, _, _ := strings.Cut(ctype, ";")
	return strings.ToLower(strings.TrimSpace(mt))
}

// typeMatches reports whether media type mt is pattern, or under a
// pattern "top/*".
func typeMatches(pattern, mt string) bool {
	if top, ok := strings.CutSuffix(pattern, "/*"); ok {
		return strings.HasPrefix(mt, top+"/")
	}
	return mt == pattern
}

// personal reports whether a request bears a sign of being a visitor's
// own, so that no rule applies to it: Authorization, or a session cookie.
func (p Policy) personal(req *http.Request) bool {
	return field(req.Header, "Authorization") != "" || p.SessionCookie != nil && p.SessionCookie(req.Header)
}

// rule returns the rule matching the path and type of an exchange whose
// status a rule may force, before any sign of a personal request or
// response is looked at.
func (p Policy) rule(req *http.Request, status int, h http.Header) (Rule, bool) {
	if !forcedStatus(status) || len(p.Rules) == 0 {
		return Rule{}, false
	}
	return p.Match(req.URL.Path, h.Get("Content-Type"))
}

// controlled is a response as the policy judges it: its status, its
// header as control shows it (h), its directives (cc), and whether it
// carried a targeted field.
type controlled struct {
	status   int
	h        http.Header
	cc       Directives
	targeted bool
}

// judged is what Decide reads from a stored response alone, under a
// policy's Targeted and HeuristicMax. None of it changes while the
// response is stored, so the memory tier keeps it with the entry (see
// Entry.memo) and a hit does not parse the header again.
type judged struct {
	targetedField string
	heuristicMax  time.Duration

	c          controlled
	lifetime   time.Duration // the freshness lifetime, when no rule forces one
	initialAge time.Duration // corrected_initial_age (RFC 9111 §4.2.3)
	setCookie  bool
}

// judge returns what Decide reads from e alone. For an entry that still
// has the memory tier's header, it is what the tier kept from an
// earlier hit under p's Targeted and HeuristicMax, or else is read now
// and kept. A caller that replaced a shared entry's Header is judged by
// the header it now has, and leaves the tier's judgement as it was.
func (p Policy) judge(e *Entry) judged {
	m := e.memo
	if m != nil && !sameMap(m.meta.Header, e.Header) {
		m = nil
	}
	if m != nil {
		if j := m.judged.Load(); j != nil && j.targetedField == p.Targeted && j.heuristicMax == p.HeuristicMax {
			return *j
		}
	}
	cc, view, targeted := p.control(e.Header)
	j := judged{
		targetedField: p.Targeted,
		heuristicMax:  p.HeuristicMax,
		c:             controlled{e.Status, view, cc, targeted},
		initialAge:    initialAge(e.Header, e.RequestTime, e.ResponseTime),
		setCookie:     len(e.Header["Set-Cookie"]) > 0,
	}
	j.lifetime, _ = freshnessLifetime(j.c, e.ResponseTime, p.HeuristicMax)
	if m != nil {
		kept := j
		m.judged.Store(&kept)
	}
	return j
}

// sameMap reports whether a and b are the same map, not merely equal.
func sameMap(a, b http.Header) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

// field returns the first value of the header field key, which must be
// in canonical form ("Etag", not "ETag"): Header.Get without
// canonicalising the key on every request.
func field(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// forced returns the rule that forces the lifetime of the response c to
// req, if one applies: a rule matches the path and type, the status may
// be forced, the request is not personal, the response has no targeted
// field, and it is not private or no-store, unless the rule overrides
// that.
func (p Policy) forced(req *http.Request, c controlled) (Rule, bool) {
	if c.targeted || p.personal(req) {
		return Rule{}, false
	}
	r, ok := p.rule(req, c.status, c.h)
	if !ok || !r.OverridePrivate && (c.cc.Private || c.cc.NoStore && !c.cc.MustUnderstand) {
		return Rule{}, false
	}
	return r, true
}

// sharedWithAuthorization reports whether a response says a shared cache
// may reuse it for requests with Authorization (RFC 9111 §3.5).
func sharedWithAuthorization(cc Directives) bool {
	return cc.Public || cc.SMaxAge.Present || cc.MustRevalidate
}

// Reasons returned by Storable, usable as a Cache-Status detail
// (RFC 9211 §2.8).
const (
	ReasonMethod         = "method"           // not GET (§3); HEAD has no body to store
	ReasonStatus         = "status"           // 1xx, 206, 304, or not understood and not explicitly fresh (§3)
	ReasonSetCookie      = "set-cookie"       // icpedge policy
	ReasonRequestNoStore = "request-no-store" // §5.2.1.5
	ReasonNoStore        = "no-store"         // §5.2.2.5
	ReasonPrivate        = "private"          // §5.2.2.7, shared cache
	ReasonAuthorization  = "authorization"    // §3.5
	ReasonCookiePrivate  = "cookie-private"   // icpedge policy: a forced rule overriding private, a request with Cookie
	ReasonCookie         = "cookie"           // icpedge policy: a request with Cookie, not explicitly shared
	ReasonVaryStar       = "vary-star"        // §4.1: can never be matched
	ReasonNoFreshness    = "no-freshness"     // §3: no explicit or heuristic freshness
)

// Storable reports whether a shared cache may store the response to req
// (RFC 9111 §3, §3.5, with the policy above). When it may not, reason is
// one of the Reason constants. Storable looks only at req's method, path
// and header, so it may be called before the body has been read.
func (p Policy) Storable(req *http.Request, status int, h http.Header) (ok bool, reason string) {
	if req.Method != http.MethodGet {
		return false, ReasonMethod
	}
	if neverStored(status) {
		return false, ReasonStatus
	}
	if len(h.Values("Set-Cookie")) > 0 {
		return false, ReasonSetCookie
	}
	if ParseCacheControl(req.Header).NoStore {
		return false, ReasonRequestNoStore
	}
	if varyStar(h) {
		return false, ReasonVaryStar
	}
	cc, h, targeted := p.control(h)
	// §3: a final status the cache does not understand may be stored
	// only with explicit freshness (a status it does not know is not
	// heuristically cacheable, §4.2.2, and public alone would call for
	// heuristics), and never when the origin limits storage to caches
	// that understand it with must-understand (§5.2.2.3). 299, 499, 599
	// and the standard statuses outside understoodStatus land here.
	if !understoodStatus(status) && (cc.MustUnderstand || !hasExplicitExpiration(h, cc)) {
		return false, ReasonStatus
	}
	auth := req.Header.Get("Authorization") != ""
	// A rule never applies to a request with Authorization. When the
	// response does not let a shared cache reuse it for such requests
	// either (§3.5), that is the reason it is not stored.
	if _, ok := p.rule(req, status, h); ok && !targeted && auth && !sharedWithAuthorization(cc) {
		return false, ReasonAuthorization
	}
	if _, ok := p.forced(req, controlled{status, h, cc, targeted}); ok {
		if req.Header.Get("Cookie") != "" && (cc.Private || cc.NoStore) {
			// Overridden for everyone else; a visitor with cookies
			// answered so may have been recognised.
			return false, ReasonCookiePrivate
		}
		return true, ""
	}
	// §5.2.2.3: a cache that understands the status code may ignore
	// no-store when must-understand is present; statuses it does not
	// understand were refused above.
	if cc.NoStore && !cc.MustUnderstand {
		return false, ReasonNoStore
	}
	if cc.Private {
		return false, ReasonPrivate
	}
	// §3.5: a request with Authorization may be answered from a shared
	// cache only if the response explicitly allows it.
	if auth && !sharedWithAuthorization(cc) {
		return false, ReasonAuthorization
	}
	if req.Header.Get("Cookie") != "" && !cc.Public && !cc.SMaxAge.Present && !positiveExpiration(h, cc) {
		return false, ReasonCookie
	}
	if hasExplicitExpiration(h, cc) || heuristicStatus(status) || cc.Public {
		return true, ""
	}
	return false, ReasonNoFreshness
}

// Lifetime returns the freshness lifetime of a response to req: the TTL
// of a forcing rule, else FreshnessLifetime with the policy's heuristic
// cap.
func (p Policy) Lifetime(req *http.Request, status int, h http.Header, responseTime time.Time) (lifetime time.Duration, forced bool) {
	cc, h, targeted := p.control(h)
	c := controlled{status, h, cc, targeted}
	if r, ok := p.forced(req, c); ok {
		return r.TTL, true
	}
	l, _ := freshnessLifetime(c, responseTime, p.HeuristicMax)
	return l, false
}

// Action is what to do with a stored response.
type Action int

const (
	// Miss: the stored response must not be used at all (it would not be
	// stored under the current policy); fetch unconditionally and replace
	// or delete it.
	Miss Action = iota
	// Serve: the stored response is fresh (or stale within the client's
	// max-stale); serve it without contacting the origin.
	Serve
	// ServeStale: stale, but within stale-while-revalidate; serve it now
	// and refresh it in the background.
	ServeStale
	// Revalidate: contact the origin first, conditionally (see
	// RevalidationHeaders). Decision.ServeOnError says whether the stored
	// response may be served if the origin fails.
	Revalidate
)

func (a Action) String() string {
	switch a {
	case Miss:
		return "miss"
	case Serve:
		return "serve"
	case ServeStale:
		return "serve-stale"
	case Revalidate:
		return "revalidate"
	}
	return "action(?)"
}

// Decision is the outcome of Decide.
type Decision struct {
	Action Action
	// ServeOnError reports that the stored response may be served if the
	// origin cannot be reached or answers with a 5xx (RFC 5861 §4 and
	// Policy.StaleIfError; a fresh response always may, unless the
	// origin said no-cache).
	ServeOnError bool
	// Forced reports that a Rule set the lifetime.
	Forced bool
	// Age and Lifetime are the current age (§4.2.3) and freshness
	// lifetime (§4.2.1); Lifetime-Age is the Cache-Status ttl.
	Age, Lifetime time.Duration
	// Detail says why the origin must be contacted, when it must:
	// "stale", "no-cache", "request-no-cache", "request-max-age",
	// "request-min-fresh", or a Storable reason for Miss.
	Detail string
}

// Fresh reports whether the stored response was fresh.
func (d Decision) Fresh() bool { return d.Lifetime > d.Age }

// Decide says how a stored response e may satisfy req at now (RFC 9111
// §4, §4.2.4, RFC 5861). Vary matching (§4.1, SecondaryKey) and method
// matching are the caller's; Decide assumes e was selected for req.
func (p Policy) Decide(req *http.Request, e *Entry, now time.Time) Decision {
	d := Decision{Detail: "stale"}
	j := p.judge(e)
	c, cc := j.c, j.c.cc
	auth := field(req.Header, "Authorization") != ""
	// A rule never applies to a request with Authorization or a session
	// cookie, whatever stored the response, nor to a response with a
	// targeted field.
	rule, forced := p.forced(req, c)
	d.Forced = forced
	d.Age = ageAt(j.initialAge, e.ResponseTime, now)
	if forced {
		d.Lifetime = rule.TTL
	} else {
		d.Lifetime = j.lifetime
	}

	// The entry may have been stored under a rule that no longer applies
	// (the configuration changed across a restart).
	if j.setCookie {
		d.Action, d.Detail = Miss, ReasonSetCookie
		return d
	}
	if !forced && ((cc.NoStore && !cc.MustUnderstand) || cc.Private) {
		d.Action, d.Detail = Miss, ReasonPrivate
		if !cc.Private {
			d.Detail = ReasonNoStore
		}
		return d
	}

	// §3.5: a request with Authorization may be answered only by a
	// response that says a shared cache may reuse it for such requests,
	// whichever request stored it. An anonymous copy without them may be
	// what the origin gives everyone who is not signed in.
	if auth && !sharedWithAuthorization(cc) {
		d.Action, d.Detail = Miss, ReasonAuthorization
		return d
	}

	fresh := d.Lifetime > d.Age
	staleness := max(0, d.Age-d.Lifetime)
	// §5.2.2.4: no-cache forbids any use without successful validation.
	noCache := !forced && cc.NoCache
	// §5.2.2.2, §5.2.2.8, §5.2.2.10 (s-maxage implies proxy-revalidate):
	// never serve stale, not even on error (§4.2.4).
	mustRevalidate := !forced && (cc.MustRevalidate || cc.ProxyRevalidate || cc.SMaxAge.Present)
	rcc := ParseCacheControl(req.Header)

	sie := max(p.StaleIfError, cc.StaleIfError.Value, rcc.StaleIfError.Value)
	d.ServeOnError = !noCache && (fresh || (!mustRevalidate && sie > 0 && staleness <= sie))

	if noCache {
		d.Action, d.Detail = Revalidate, "no-cache"
		return d
	}
	if !forced {
		switch {
		case rcc.NoCache: // §5.2.1.4
			d.Action, d.Detail = Revalidate, "request-no-cache"
			return d
		case rcc.MaxAge.Present && d.Age > rcc.MaxAge.Value: // §5.2.1.1
			d.Action, d.Detail = Revalidate, "request-max-age"
			return d
		case rcc.MinFresh.Present && d.Lifetime-d.Age < rcc.MinFresh.Value: // §5.2.1.3
			d.Action, d.Detail = Revalidate, "request-min-fresh"
			return d
		}
	}
	if fresh {
		d.Action, d.Detail = Serve, ""
		return d
	}
	if mustRevalidate {
		d.Action = Revalidate
		return d
	}
	// §4.2.4: the client may accept staleness with max-stale.
	if !forced && (rcc.MaxStaleAny || (rcc.MaxStale.Present && staleness <= rcc.MaxStale.Value)) {
		d.Action, d.Detail = Serve, ""
		return d
	}
	if swr := max(p.StaleWhileRevalidate, cc.StaleWhileRevalidate.Value); swr > 0 && staleness <= swr {
		d.Action, d.Detail = ServeStale, ""
		return d
	}
	d.Action = Revalidate
	return d
}
