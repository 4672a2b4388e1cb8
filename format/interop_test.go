package format_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/airlock-license/airlock/format"
	"github.com/airlock-license/airlock/internal/testutil"
)

// These tests check the design's promise that an artifact is a plain
// OpenPGP signed message: GnuPG 2.2 and Sequoia verify what this package
// signs, and this package verifies what they sign, as long as they sign the
// way the design requires (no compression, binary signature, a strong hash).

// interopResult is the outcome of one external command.
type interopResult struct {
	stdout, stderr []byte
	code           int
}

// interopRun runs a program with the given environment additions in dir and
// returns its output and exit status. It fails the test only when the
// program could not be started at all.
func interopRun(t *testing.T, env []string, dir, prog string, args ...string) interopResult {
	t.Helper()
	cmd := exec.Command(prog, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return interopResult{stdout.Bytes(), stderr.Bytes(), 0}
	case errors.As(err, &exit):
		return interopResult{stdout.Bytes(), stderr.Bytes(), exit.ExitCode()}
	}
	t.Fatalf("run %s %s: %v", prog, strings.Join(args, " "), err)
	return interopResult{}
}

// interopMust runs a program that must succeed and returns its stdout.
func interopMust(t *testing.T, env []string, dir, prog string, args ...string) []byte {
	t.Helper()
	r := interopRun(t, env, dir, prog, args...)
	if r.code != 0 {
		t.Fatalf("%s %s: exit %d\nstdout:\n%s\nstderr:\n%s", filepath.Base(prog), strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// interopWrite writes data to name in dir and returns the path.
func interopWrite(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// interopRead reads a file that an external program wrote.
func interopRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// interopKey generates an Ed25519 key the way the vendor does.
func interopKey(t *testing.T, name string, now time.Time) *format.PrivateKey {
	t.Helper()
	k, err := format.GenerateKey(format.KeyOptions{Name: name, Email: "keys@example.com", Now: now})
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	return k
}

// interopID returns a fresh random ID.
func interopID(t *testing.T) format.ID {
	t.Helper()
	id, err := format.NewID(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// interopResponse returns a response with every required field valid.
func interopResponse(t *testing.T, now time.Time) *format.Response {
	t.Helper()
	host := interopKey(t, "Host", now)
	return &format.Response{
		LicenseID:          interopID(t),
		RequestID:          interopID(t),
		RequestDigest:      sha256.Sum256([]byte("the request's signed bytes")),
		Issued:             format.NewTime(now),
		Product:            "astera",
		Versions:           []int{9},
		Licensee:           format.Licensee{Name: "Jane Admin", Organization: "Example Hospital"},
		HostKeyFingerprint: host.Fingerprint(),
		Fingerprint: format.Fingerprint{
			Components: map[string]string{
				format.ComponentMachineID: format.HashComponent("astera", "x"),
				format.ComponentMAC:       format.HashComponent("astera", "52:54:00:12:34:56"),
				format.ComponentRootDisk:  format.HashComponent("astera", "disk-serial-1"),
			},
			Threshold: 2,
		},
		Features: []string{"ha", "reporting"},
		Limits:   format.Limits{Clients: 2},
	}
}

// interopFlipPayloadByte returns a copy of the binary message bin with one
// byte of the signed payload (found inside the literal data packet) changed.
func interopFlipPayloadByte(t *testing.T, bin, payload []byte) []byte {
	t.Helper()
	i := bytes.Index(bin, payload)
	if i < 0 {
		t.Fatalf("payload not found in the binary message")
	}
	out := bytes.Clone(bin)
	out[i+len(payload)/2] ^= 0x01
	return out
}

// interopSignOurs signs a valid response with a fresh vendor key using this
// package, and returns the key, the binary message and the signed payload.
func interopSignOurs(t *testing.T) (*format.PrivateKey, []byte, []byte) {
	t.Helper()
	now := time.Now()
	key := interopKey(t, "Vendor", now)
	bin, err := format.Sign(key, interopResponse(t, now), now)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	a, err := format.Verify(bin, format.VerifyOptions{
		Keys: format.NewKeySet(key.Public()), Kinds: []format.Kind{format.KindResponse}, Now: now,
	})
	if err != nil {
		t.Fatalf("verify our own signature: %v", err)
	}
	return key, bin, a.Signed
}

func gnupgEnv(home string) []string { return []string{"GNUPGHOME=" + home} }

func TestInteropGPGVerifiesOurSignature(t *testing.T) {
	gpg := testutil.RequireTool(t, "gpg")
	home := testutil.GnuPGHome(t)
	env := gnupgEnv(home)
	dir := t.TempDir()

	key, bin, payload := interopSignOurs(t)
	fpr := string(key.Fingerprint())
	keyFile := interopWrite(t, dir, "vendor.asc", key.Public().Armor())
	interopMust(t, env, dir, gpg, "--batch", "--import", keyFile)

	tampered := interopFlipPayloadByte(t, bin, payload)
	files := interopFiles(bin, tampered)
	for _, f := range files {
		t.Run(f.name, func(t *testing.T) {
			path := interopWrite(t, dir, f.name, f.data)
			r := interopRun(t, env, dir, gpg, "--batch", "--status-fd", "1", "--verify", path)
			status := string(r.stdout)
			if !f.good {
				if r.code == 0 {
					t.Fatalf("gpg accepted a tampered message\n%s", status)
				}
				if !strings.Contains(status, "[GNUPG:] BADSIG ") {
					t.Errorf("gpg exit %d without a BADSIG status line\nstatus:\n%s\nstderr:\n%s", r.code, status, r.stderr)
				}
				if strings.Contains(status, "[GNUPG:] VALIDSIG ") {
					t.Errorf("gpg reported VALIDSIG for a tampered message\n%s", status)
				}
				return
			}
			if r.code != 0 {
				t.Fatalf("gpg --verify: exit %d\nstatus:\n%s\nstderr:\n%s", r.code, status, r.stderr)
			}
			// VALIDSIG <sig key fpr> <date> <timestamp> <expires> <version>
			// <reserved> <pubkey algo> <hash algo> <class> <primary fpr>
			var valid []string
			for _, line := range strings.Split(status, "\n") {
				if fields := strings.Fields(line); len(fields) >= 11 && fields[0] == "[GNUPG:]" && fields[1] == "VALIDSIG" {
					valid = fields
				}
			}
			if valid == nil {
				t.Fatalf("no VALIDSIG status line\nstatus:\n%s\nstderr:\n%s", status, r.stderr)
			}
			if valid[2] != fpr {
				t.Errorf("VALIDSIG names key %s, want the vendor key %s", valid[2], fpr)
			}
			if len(valid) >= 12 && valid[11] != fpr {
				t.Errorf("VALIDSIG names primary key %s, want %s", valid[11], fpr)
			}
			if valid[8] != "22" || valid[9] != "10" || valid[10] != "00" {
				t.Errorf("VALIDSIG: algorithm %s, hash %s, class %s; want 22 (EdDSA), 10 (SHA-512), 00 (binary)", valid[8], valid[9], valid[10])
			}
		})
	}
}

func TestInteropSequoiaVerifiesOurSignature(t *testing.T) {
	sq := testutil.RequireTool(t, "sq")
	dir := t.TempDir()

	key, bin, payload := interopSignOurs(t)
	keyFile := interopWrite(t, dir, "vendor.asc", key.Public().Armor())

	tampered := interopFlipPayloadByte(t, bin, payload)
	files := interopFiles(bin, tampered)
	for _, f := range files {
		t.Run(f.name, func(t *testing.T) {
			path := interopWrite(t, dir, f.name, f.data)
			r := interopRun(t, nil, dir, sq, "verify", "--signer-cert", keyFile, path)
			if !f.good {
				if r.code == 0 {
					t.Fatalf("sq verify accepted a tampered message\nstdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
				}
				if len(r.stdout) != 0 {
					t.Errorf("sq verify printed %d bytes of a message it refused", len(r.stdout))
				}
				return
			}
			if r.code != 0 {
				t.Fatalf("sq verify: exit %d\nstderr:\n%s", r.code, r.stderr)
			}
			if !bytes.Equal(r.stdout, payload) {
				t.Errorf("sq verify printed\n%s\nwant the signed payload\n%s", r.stdout, payload)
			}
		})
	}
}

// interopExpect verifies msg with the pinned keys and checks the outcome:
// want == nil means it must verify, signed by signerFpr, with payload as its
// signed bytes; otherwise the error must match want.
func interopExpect(t *testing.T, msg []byte, keys *format.KeySet, want error, signerFpr string, payload []byte) {
	t.Helper()
	a, err := format.Verify(msg, format.VerifyOptions{
		Keys: keys, Kinds: []format.Kind{format.KindResponse}, Now: time.Now(),
	})
	if want != nil {
		if !errors.Is(err, want) {
			t.Fatalf("Verify: got error %v, want one matching %q", err, want)
		}
		t.Logf("refused as expected: %v", err)
		return
	}
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if got := string(a.Signer.Fingerprint()); got != signerFpr {
		t.Errorf("Signer = %s, want %s", got, signerFpr)
	}
	if a.Kind != format.KindResponse {
		t.Errorf("Kind = %s, want response", a.Kind)
	}
	if !bytes.Equal(a.Signed, payload) {
		t.Errorf("Signed =\n%s\nwant\n%s", a.Signed, payload)
	}
}

func TestInteropGPGSignedMessageVerifies(t *testing.T) {
	gpg := testutil.RequireTool(t, "gpg")
	home := testutil.GnuPGHome(t)
	env := gnupgEnv(home)
	dir := t.TempDir()
	now := time.Now()

	interopMust(t, env, dir, gpg, "--batch", "--passphrase", "", "--quick-gen-key", "Vendor <v@example.com>", "ed25519", "sign", "never")
	var fpr string
	for _, line := range strings.Split(string(interopMust(t, env, dir, gpg, "--batch", "--with-colons", "--list-keys")), "\n") {
		if f := strings.Split(line, ":"); len(f) > 9 && f[0] == "fpr" {
			fpr = f[9]
			break
		}
	}
	if len(fpr) != 40 {
		t.Fatalf("no v4 fingerprint in gpg --list-keys (got %q)", fpr)
	}
	exported := interopMust(t, env, dir, gpg, "--batch", "--armor", "--export", fpr)
	pinned, err := format.ParseKeySet(exported)
	if err != nil {
		t.Fatalf("ParseKeySet(gpg --export): %v", err)
	}
	other := format.NewKeySet(interopKey(t, "Other vendor", now).Public())

	payload, err := format.EncodePayload(interopResponse(t, now))
	if err != nil {
		t.Fatal(err)
	}
	payloadFile := interopWrite(t, dir, "response.json", payload)

	cases := []struct {
		name string
		args []string // gpg options besides --local-user and --output
		want error    // nil: must verify
	}{
		{"armored", []string{"--armor", "--sign", "--set-filename", "", "--compress-algo", "none", "--digest-algo", "SHA512"}, nil},
		{"binary", []string{"--sign", "--set-filename", "", "--compress-algo", "none", "--digest-algo", "SHA512"}, nil},
		{"sha256", []string{"--sign", "--set-filename", "", "--compress-algo", "none", "--digest-algo", "SHA256"}, nil},
		{"compressed-default", []string{"--sign", "--digest-algo", "SHA512"}, format.ErrPacketSequence},
		{"compressed-armored", []string{"--armor", "--sign", "--digest-algo", "SHA512"}, format.ErrPacketSequence},
		{"compressed-zlib", []string{"--sign", "--compress-algo", "zlib", "--digest-algo", "SHA512"}, format.ErrPacketSequence},
		{"sha1", []string{"--sign", "--set-filename", "", "--compress-algo", "none", "--digest-algo", "SHA1"}, format.ErrWeakHash},
		{"sha224", []string{"--sign", "--set-filename", "", "--compress-algo", "none", "--digest-algo", "SHA224"}, format.ErrWeakHash},
		{"file-name", []string{"--sign", "--compress-algo", "none", "--digest-algo", "SHA512"}, format.ErrPacketSequence},
		{"clearsign", []string{"--clearsign", "--digest-algo", "SHA512"}, format.ErrPacketSequence},
		{"textmode", []string{"--textmode", "--sign", "--set-filename", "", "--compress-algo", "none", "--digest-algo", "SHA512"}, format.ErrPacketSequence},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(dir, c.name+".out")
			args := append([]string{"--batch", "--yes", "--local-user", fpr, "--output", out}, c.args...)
			r := interopRun(t, env, dir, gpg, append(args, payloadFile)...)
			if r.code != 0 {
				if c.want == format.ErrWeakHash {
					t.Skipf("gpg refuses to sign with %s and this key (exit %d: %s); nothing to check", c.name, r.code, bytes.TrimSpace(r.stderr))
				}
				t.Fatalf("gpg %s: exit %d\n%s", strings.Join(args, " "), r.code, r.stderr)
			}
			msg := interopRead(t, out)
			interopExpect(t, msg, pinned, c.want, fpr, payload)
			if c.want == nil {
				// The same message with another key pinned is refused.
				interopExpect(t, msg, other, format.ErrUnknownSigner, "", nil)
			}
		})
	}
}

// sqField returns the values of every "label: value" line of sq output.
func sqField(out []byte, label string) []string {
	var vals []string
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), label+":"); ok {
			vals = append(vals, strings.TrimSpace(v))
		}
	}
	return vals
}

// sqInspectKeys reads sq inspect's output for one certificate and returns
// the primary key's fingerprint and that of its (only) signing subkey.
func sqInspectKeys(t *testing.T, out []byte) (primary, signing string) {
	t.Helper()
	current := ""
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "Fingerprint:"); ok && primary == "" {
			primary = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "Subkey:"); ok {
			current = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "Key flags:"); ok && current != "" && strings.Contains(v, "signing") {
			if signing != "" {
				t.Fatalf("sq inspect lists two signing subkeys:\n%s", out)
			}
			signing = current
		}
	}
	if len(primary) != 40 || len(signing) != 40 {
		t.Fatalf("sq inspect: primary key %q, signing subkey %q; want two v4 fingerprints\n%s", primary, signing, out)
	}
	return primary, signing
}

func TestInteropSequoiaSignedMessageVerifies(t *testing.T) {
	sq := testutil.RequireTool(t, "sq")
	dir := t.TempDir()
	now := time.Now()

	// sq's default key: a certification-only Ed25519 primary key with
	// signing, authentication and encryption subkeys. Signatures are made
	// by the signing subkey.
	interopMust(t, nil, dir, sq, "key", "generate", "--userid", "Vendor <v@example.com>", "--cipher-suite", "cv25519", "--export", "vendor.key")
	cert := interopMust(t, nil, dir, sq, "key", "extract-cert", "vendor.key")
	pinned, err := format.ParseKeySet(cert)
	if err != nil {
		t.Fatalf("ParseKeySet(sq key extract-cert): %v", err)
	}
	certFile := interopWrite(t, dir, "vendor.cert", cert)
	primary, signing := sqInspectKeys(t, interopMust(t, nil, dir, sq, "inspect", certFile))
	other := format.NewKeySet(interopKey(t, "Other vendor", now).Public())

	payload, err := format.EncodePayload(interopResponse(t, now))
	if err != nil {
		t.Fatal(err)
	}
	payloadFile := interopWrite(t, dir, "response.json", payload)

	cases := []struct {
		name string
		args []string
		want error
	}{
		{"armored", nil, nil},
		{"binary", []string{"--binary"}, nil},
		{"cleartext", []string{"--cleartext-signature"}, format.ErrPacketSequence},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(dir, c.name+".out")
			args := append([]string{"sign", "--signer-key", "vendor.key", "--output", out}, c.args...)
			interopMust(t, nil, dir, sq, append(args, payloadFile)...)
			msg := interopRead(t, out)
			if c.want == nil {
				// sq signs with the signing subkey, not the primary key.
				dump := interopMust(t, nil, dir, sq, "packet", "dump", out)
				issuers := sqField(dump, "Issuer Fingerprint")
				if len(issuers) != 1 || issuers[0] != signing {
					t.Errorf("signature issuer fingerprints %v, want the signing subkey %s", issuers, signing)
				}
				if bytes.Contains(dump, []byte("Compressed Data Packet")) {
					t.Errorf("sq compressed the message:\n%s", dump)
				}
			}
			interopExpect(t, msg, pinned, c.want, primary, payload)
			if c.want == nil {
				interopExpect(t, msg, other, format.ErrUnknownSigner, "", nil)
			}
		})
	}
}

// interopFile is one file an outside tool is asked to verify.
type interopFile struct {
	name string
	data []byte
	good bool
}

// interopFiles returns a signed message and a tampered copy, each armored
// and binary.
func interopFiles(bin, tampered []byte) []interopFile {
	return []interopFile{
		{"response.lic", format.Armor(bin, format.KindResponse), true},
		{"response.bin", bin, true},
		{"tampered.lic", format.Armor(tampered, format.KindResponse), false},
		{"tampered.bin", tampered, false},
	}
}
