package cluster

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestStorageConformance checks the certmagic.Storage contract, with one
// node writing and another reading.
func TestStorageConformance(t *testing.T) {
	r := startRedis(t)
	a := openNode(t, r, "a", "", nil)
	b := openNode(t, r, "b", "", nil)
	sa, sb := a.Storage(), b.Storage()
	ctx := context.Background()

	files := map[string]string{
		"acme/ca/users/ops@agency.example/ops.json":                 "account",
		"certificates/ca/icp.client.com/icp.client.com.crt":         "cert",
		"certificates/ca/icp.client.com/icp.client.com.key":         "key",
		"certificates/ca/www.icp.client.com/www.icp.client.com.crt": "cert2",
		"last_clean.json": "clean",
	}
	for k, v := range files {
		if err := sa.Store(ctx, k, []byte(v)); err != nil {
			t.Fatalf("Store(%s): %v", k, err)
		}
	}
	for k, v := range files {
		got, err := sb.Load(ctx, k)
		if err != nil || string(got) != v {
			t.Errorf("b.Load(%s) = %q, %v; want %q", k, got, err, v)
		}
	}
	// Overwrite.
	crt := "certificates/ca/icp.client.com/icp.client.com.crt"
	if err := sb.Store(ctx, crt, []byte("renewed")); err != nil {
		t.Fatal(err)
	}
	if got, _ := sa.Load(ctx, crt); string(got) != "renewed" {
		t.Errorf("a.Load after b's Store = %q; want renewed", got)
	}

	// Missing keys are fs.ErrNotExist.
	if _, err := sb.Load(ctx, "certificates/ca/nope/nope.crt"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing) error %v; want fs.ErrNotExist", err)
	}
	if _, err := sb.Stat(ctx, "nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat(missing) error %v; want fs.ErrNotExist", err)
	}
	if _, err := sb.List(ctx, "nope", true); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("List(missing) error %v; want fs.ErrNotExist", err)
	}

	// Exists and Stat: files and directories, by whole components.
	for key, want := range map[string]bool{
		crt: true, "certificates": true, "certificates/ca/icp.client.com": true,
		"certificates/c": false, "certificates/ca/icp.client.com/icp": false,
	} {
		if got := sb.Exists(ctx, key); got != want {
			t.Errorf("Exists(%s) = %v; want %v", key, got, want)
		}
	}
	info, err := sb.Stat(ctx, crt)
	if err != nil || !info.IsTerminal || info.Size != int64(len("renewed")) || info.Modified.IsZero() || info.Key != crt {
		t.Errorf("Stat(file) = %+v, %v; want terminal, size 7, a modification time", info, err)
	}
	info, err = sb.Stat(ctx, "certificates/ca")
	if err != nil || info.IsTerminal {
		t.Errorf("Stat(dir) = %+v, %v; want a directory", info, err)
	}

	// List.
	got, err := sb.List(ctx, "certificates/ca", false)
	want := []string{"certificates/ca/icp.client.com", "certificates/ca/www.icp.client.com"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("List(certificates/ca, false) = %v, %v; want %v", got, err, want)
	}
	got, err = sb.List(ctx, "certificates", true)
	want = []string{
		"certificates/ca",
		"certificates/ca/icp.client.com",
		"certificates/ca/icp.client.com/icp.client.com.crt",
		"certificates/ca/icp.client.com/icp.client.com.key",
		"certificates/ca/www.icp.client.com",
		"certificates/ca/www.icp.client.com/www.icp.client.com.crt",
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("List(certificates, true) = %v, %v; want %v", got, err, want)
	}
	got, err = sb.List(ctx, "", false)
	want = []string{"acme", "certificates", "last_clean.json"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("List(\"\", false) = %v, %v; want %v", got, err, want)
	}

	// Delete a directory: everything under it goes, nothing beside it.
	if err := sa.Delete(ctx, "certificates/ca/icp.client.com"); err != nil {
		t.Fatal(err)
	}
	if sb.Exists(ctx, crt) || sb.Exists(ctx, "certificates/ca/icp.client.com") {
		t.Error("Exists after deleting its directory = true; want false")
	}
	if !sb.Exists(ctx, "certificates/ca/www.icp.client.com/www.icp.client.com.crt") {
		t.Error("Delete removed a sibling directory's key")
	}
	if err := sa.Delete(ctx, "certificates/ca/icp.client.com"); err != nil {
		t.Errorf("Delete of a missing key: %v; want nil", err)
	}

	// Keys that would leave the mirror are refused.
	for _, k := range []string{"../x", "a/../../x", "/etc/passwd", "a//b", ""} {
		if err := sa.Store(ctx, k, []byte("x")); err == nil {
			t.Errorf("Store(%q) = nil; want an error", k)
		}
	}

	// The mirror holds what each node read or wrote.
	mirrored, err := os.ReadFile(filepath.Join(b.opts.Dir, "certs", "acme/ca/users/ops@agency.example/ops.json"))
	if err != nil || string(mirrored) != "account" {
		t.Errorf("b's mirror of a key it loaded = %q, %v; want account", mirrored, err)
	}
	if _, err := os.Stat(filepath.Join(a.opts.Dir, "certs", "certificates/ca/icp.client.com")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a's mirror kept a deleted directory: %v", err)
	}
}

// TestStorageRedisDown: a node keeps its certificates while Redis is down,
// a node restarted meanwhile starts from its mirror, and what it stored
// meanwhile reaches Redis when it returns.
func TestStorageRedisDown(t *testing.T) {
	r := startRedis(t)
	dirA := t.TempDir()
	a := openNode(t, r, "a", dirA, nil)
	b := openNode(t, r, "b", "", nil)
	ctx := context.Background()
	crt := "certificates/ca/icp.client.com/icp.client.com.crt"
	key := "certificates/ca/icp.client.com/icp.client.com.key"
	for k, v := range map[string]string{crt: "cert-1", key: "key-1"} {
		if err := a.Storage().Store(ctx, k, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	if up, why := a.Up(); !up {
		t.Fatalf("Up() = false (%s) with redis running", why)
	}

	r.Kill()
	got, err := a.Storage().Load(ctx, crt)
	if err != nil || string(got) != "cert-1" {
		t.Fatalf("Load with redis down = %q, %v; want cert-1 from the mirror", got, err)
	}
	waitUntil(t, "a reports redis down", func() bool { up, _ := a.Up(); return !up })
	if _, why := a.Up(); !strings.Contains(why, "redis unreachable") {
		t.Errorf("Up() reason %q; want it to say redis is unreachable", why)
	}
	if err := a.Storage().Lock(ctx, "issue_cert_icp.client.com"); err == nil {
		t.Error("Lock with redis down succeeded; want an error so no unshared order starts")
	}
	if !a.Storage().Exists(ctx, crt) {
		t.Error("Exists with redis down = false; want true from the mirror")
	}
	if l, err := a.Storage().List(ctx, "certificates", true); err != nil || !strings.Contains(strings.Join(l, " "), crt) {
		t.Errorf("List with redis down = %v, %v; want it to include %s", l, err, crt)
	}

	// A renewal while Redis is down is kept locally.
	if err := a.Storage().Store(ctx, crt, []byte("cert-2")); err != nil {
		t.Fatalf("Store with redis down: %v", err)
	}
	if a.Storage().Pending() != 1 {
		t.Fatalf("Pending() = %d; want 1", a.Storage().Pending())
	}

	// The node restarts while Redis is still down: it starts, and serves
	// from its mirror.
	a.Close()
	a = openNode(t, r, "a", dirA, nil)
	if up, why := a.Up(); up || why == "" {
		t.Errorf("Up() after a start without redis = %v, %q; want false with a reason", up, why)
	}
	for k, want := range map[string]string{crt: "cert-2", key: "key-1"} {
		got, err := a.Storage().Load(ctx, k)
		if err != nil || string(got) != want {
			t.Errorf("Load(%s) after a restart without redis = %q, %v; want %q", k, got, err, want)
		}
	}

	// Redis returns on the same port: the write is caught up, and b
	// sees it.
	r.Run()
	waitUntil(t, "a is up and has caught up", func() bool {
		up, _ := a.Up()
		return up && a.Storage().Pending() == 0
	})
	waitUntil(t, "b is up", func() bool { up, _ := b.Up(); return up })
	got, err = b.Storage().Load(ctx, crt)
	if err != nil || !bytes.Equal(got, []byte("cert-2")) {
		t.Errorf("b.Load after catch-up = %q, %v; want cert-2", got, err)
	}
	if err := a.Storage().Lock(ctx, "issue_cert_icp.client.com"); err != nil {
		t.Errorf("Lock after redis returned: %v", err)
	}
}

// TestCatchUpKeepsNewerWrite: a write kept during an outage does not
// overwrite what another node stored after it.
func TestCatchUpKeepsNewerWrite(t *testing.T) {
	r := startRedis(t)
	a := openNode(t, r, "a", "", nil)
	ctx := context.Background()
	crt := "certificates/ca/icp.client.com/icp.client.com.crt"

	r.Kill()
	if err := a.Storage().Store(ctx, crt, []byte("old")); err != nil {
		t.Fatal(err)
	}
	a.abandon() // a stays away; its pending write is on disk
	r.Run()
	b := openNode(t, r, "b", "", nil)
	if err := b.Storage().Store(ctx, crt, []byte("newer")); err != nil {
		t.Fatal(err)
	}
	a2 := openNode(t, r, "a", a.opts.Dir, nil)
	waitUntil(t, "a has caught up", func() bool { return a2.Storage().Pending() == 0 })
	got, err := b.Storage().Load(ctx, crt)
	if err != nil || string(got) != "newer" {
		t.Errorf("Load after a's catch-up = %q, %v; want newer (b's later write)", got, err)
	}
}

// TestStorageChallengeTokensNotMirrored: a node that answered the CA from
// a challenge token another node stored keeps no copy of it, which would
// outlive the token's deletion by the node that stored it.
func TestStorageChallengeTokensNotMirrored(t *testing.T) {
	r := startRedis(t)
	a := openNode(t, r, "a", "", nil)
	b := openNode(t, r, "b", "", nil)
	ctx := context.Background()
	token := "acme/ca/challenge_tokens/icp.client.com.json"

	if err := a.Storage().Store(ctx, token, []byte(`{"token":"t"}`)); err != nil {
		t.Fatal(err)
	}
	if got, err := b.Storage().Load(ctx, token); err != nil || string(got) != `{"token":"t"}` {
		t.Fatalf("b.Load(token) = %q, %v; want a's token", got, err)
	}
	for _, n := range []*Node{a, b} {
		if _, err := os.Stat(filepath.Join(n.opts.Dir, "certs", token)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s's mirror holds the challenge token (%v); want none", n.Name(), err)
		}
	}
	if err := a.Storage().Delete(ctx, token); err != nil {
		t.Fatal(err)
	}

	// With Redis down, a token is neither served from a mirror nor kept
	// to be written later: no other node could read it meanwhile.
	r.Kill()
	if _, err := b.Storage().Load(ctx, token); err == nil {
		t.Error("b.Load(token) with redis down succeeded; want an error")
	}
	if err := a.Storage().Store(ctx, token, []byte("x")); err == nil || a.Storage().Pending() != 0 {
		t.Errorf("a.Store(token) with redis down = %v, %d pending; want an error and nothing pending", err, a.Storage().Pending())
	}
}
