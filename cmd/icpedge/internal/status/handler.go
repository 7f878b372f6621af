package status

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Options configure the status page's Handler.
type Options struct {
	// Token is the admin bearer token. Required: with an empty token
	// every request gets the sign-in form and no sign-in succeeds.
	Token string
	// Data returns what the page shows; it is called once per page
	// served. Required.
	Data func() Page
	// Refresh is how often the page reloads itself (meta refresh).
	// Default 30 s.
	Refresh time.Duration
	// Session is how long the cookie set by the sign-in form lasts.
	// Default 12 h.
	Session time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger gets a line per refused sign-in. Default: discard.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Refresh <= 0 {
		o.Refresh = 30 * time.Second
	}
	if o.Session <= 0 {
		o.Session = 12 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Data == nil {
		o.Data = func() Page { return Page{} }
	}
	return o
}

// CookieName is the cookie the sign-in form sets.
const CookieName = "icpedge_status"

// maxForm bounds the sign-in form's body, in bytes.
const maxForm = 4 << 10

// Handler serves the status page at the path it is mounted on:
//
//	GET  the page, with "Authorization: Bearer <token>" or the
//	     session cookie; otherwise 401 and a form asking for the token
//	POST the form: token=<token> signs in (sets the cookie and
//	     redirects to GET), logout=1 signs out
//
// The cookie holds no token, only an expiry and an HMAC of it keyed by
// the token, so it cannot be turned into a bearer token for the rest of
// the admin API, and changing the token ends every session.
type Handler struct {
	opts Options
	csp  string
}

// New returns the status page's Handler.
func New(opts Options) *Handler {
	h := &Handler{opts: opts.withDefaults()}
	// The only inline code is the stylesheet: allow exactly it, by
	// hash (CSP Level 3 §8.4), and nothing else, so an escaping bug
	// could still run no script.
	sum := sha256.Sum256([]byte(stylesheet))
	h.csp = "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; " +
		"img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", h.csp)
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("X-Content-Type-Options", "nosniff")
	// Not no-referrer: under it a browser's form POST carries
	// "Origin: null" (Fetch §3.2.5), which the CSRF check must refuse.
	hdr.Set("Referrer-Policy", "same-origin")
	// The page names hosts, errors and tokens' forms: no cache keeps it
	// (RFC 9111 §5.2.2.5).
	hdr.Set("Cache-Control", "no-store")

	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if !h.authorized(r) {
			h.signIn(w, r, http.StatusUnauthorized, "")
			return
		}
		h.page(w, r)
	case http.MethodPost:
		h.post(w, r)
	default:
		hdr.Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// authorized reports whether r carries the bearer token or a live
// session cookie.
func (h *Handler) authorized(r *http.Request) bool {
	if h.opts.Token == "" {
		return false
	}
	if got, ok := bearer(r.Header.Get("Authorization")); ok {
		return subtle.ConstantTimeCompare([]byte(got), []byte(h.opts.Token)) == 1
	}
	c, err := r.Cookie(CookieName)
	if err != nil {
		return false
	}
	return h.validSession(c.Value)
}

func (h *Handler) post(w http.ResponseWriter, r *http.Request) {
	// Cross-site requests are refused before the body is read: SameSite
	// keeps the cookie off them, and this keeps another site from
	// signing a browser in or out (login CSRF).
	if why := crossSite(r); why != "" {
		h.opts.Logger.Warn("status page sign-in refused: cross-site request", "reason", why, "remote", r.RemoteAddr)
		http.Error(w, "cross-site request refused: "+why, http.StatusForbidden)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form: "+err.Error(), http.StatusBadRequest)
		return
	}
	if r.PostForm.Get("logout") != "" {
		http.SetCookie(w, h.cookie(r, "", -1))
		h.redirect(w, r)
		return
	}
	got := strings.TrimSpace(r.PostForm.Get("token"))
	if h.opts.Token == "" || subtle.ConstantTimeCompare([]byte(got), []byte(h.opts.Token)) != 1 {
		h.opts.Logger.Warn("status page sign-in refused: wrong token", "remote", r.RemoteAddr)
		h.signIn(w, r, http.StatusUnauthorized, "That is not the admin token. It is the content of admin.token_file on the edge host.")
		return
	}
	expires := h.opts.Now().Add(h.opts.Session)
	http.SetCookie(w, h.cookie(r, h.session(expires), int(h.opts.Session/time.Second)))
	h.redirect(w, r)
}

// redirect sends the browser back to the page with a GET (RFC 9110
// §15.4.4), so that reloading it does not post the form again.
func (h *Handler) redirect(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Location", r.URL.Path)
	w.WriteHeader(http.StatusSeeOther)
}

// cookie is the session cookie. maxAge < 0 deletes it.
func (h *Handler) cookie(r *http.Request, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     CookieName,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   r.TLS != nil,
		SameSite: http.SameSiteStrictMode,
	}
}

// session is a cookie value good until expires: the expiry in Unix
// seconds and an HMAC-SHA256 of it keyed by the token.
func (h *Handler) session(expires time.Time) string {
	exp := strconv.FormatInt(expires.Unix(), 10)
	return exp + "." + hex.EncodeToString(h.mac(exp))
}

func (h *Handler) mac(exp string) []byte {
	m := hmac.New(sha256.New, []byte(h.opts.Token))
	m.Write([]byte("icpedge status session\x00" + exp))
	return m.Sum(nil)
}

func (h *Handler) validSession(v string) bool {
	exp, sig, ok := strings.Cut(v, ".")
	if !ok {
		return false
	}
	unix, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || !h.opts.Now().Before(time.Unix(unix, 0)) {
		return false
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		return false
	}
	return hmac.Equal(got, h.mac(exp))
}

// crossSite says why r is not a same-origin request, or "" when it is
// (or comes from no browser at all). Browsers send Sec-Fetch-Site
// (Fetch Metadata) and Origin (RFC 6454 §7, Fetch §3.1) on every POST;
// the Origin must name the host the request was sent to.
func crossSite(r *http.Request) string {
	switch site := r.Header.Get("Sec-Fetch-Site"); site {
	case "", "same-origin", "none":
	default:
		return "Sec-Fetch-Site is " + site
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return ""
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return "Origin " + strconv.Quote(origin) + " is not a URL's origin"
	}
	if !strings.EqualFold(u.Host, r.Host) {
		return "Origin " + strconv.Quote(origin) + " is not this host, " + strconv.Quote(r.Host)
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if !strings.EqualFold(u.Scheme, scheme) {
		return "Origin " + strconv.Quote(origin) + " is not " + scheme
	}
	return ""
}

// bearer returns the token of an Authorization header of the Bearer
// scheme (RFC 9110 §11.4; RFC 6750 §2.1).
func bearer(header string) (string, bool) {
	scheme, rest, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok := strings.TrimLeft(rest, " ")
	return tok, tok != ""
}

func (h *Handler) signIn(w http.ResponseWriter, r *http.Request, code int, problem string) {
	var buf bytes.Buffer
	if err := signInTemplate.Execute(&buf, signInData{Action: r.URL.Path, Problem: problem}); err != nil {
		h.opts.Logger.Error("status page sign-in form not rendered", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("WWW-Authenticate", `Bearer realm="icpedge"`)
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
}

func (h *Handler) page(w http.ResponseWriter, r *http.Request) {
	var buf bytes.Buffer
	if err := render(&buf, h.opts.Data(), h.opts.Now(), h.opts.Refresh, r.URL.Path); err != nil {
		h.opts.Logger.Error("status page not rendered", "err", err)
		http.Error(w, "internal error: the status page could not be rendered; see the log", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
}
