package format_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/airlock-license/airlock/format"
)

// The whole exchange: a host signs a request with its own key, the vendor
// verifies it and answers with a response bound to it, and the host
// verifies the response against the pinned vendor key, here from QR text.
func Example() {
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	ids := strings.NewReader(strings.Repeat("fixed randomness for the example", 4))

	vendor, _ := format.GenerateKey(format.KeyOptions{Name: "Example Vendor Licensing", Email: "licensing@example.com", Now: now})
	host, _ := format.GenerateKey(format.KeyOptions{Name: "host", Now: now})
	// A product embeds the vendor's public key and parses it with ParseKeySet.
	pinned := format.NewKeySet(vendor.Public())

	// On the isolated host.
	reqID, _ := format.NewID(ids)
	productKey, _ := format.ParseProductKey("C5MQ3-4V3FV-CDNJV-0SBR0-C5PQH")
	req := &format.Request{
		RequestID:      reqID,
		Created:        format.NewTime(now),
		Product:        "astera",
		ProductVersion: "9.1.0",
		ProductKey:     productKey.String(),
		Licensee:       format.Licensee{Name: "Ada Admin", Organization: "Example Bank"},
		Fingerprint: format.Fingerprint{Components: map[string]string{
			"machine-id": format.HashComponent("astera", "4c4c4544-0042-3510-8052-b4c04f4d4e31"),
			"mac":        format.HashComponent("astera", "52:54:00:12:34:56"),
			"root-disk":  format.HashComponent("astera", "9f1c0c52-3e2b-4f4e-a0a1-6d1f7c9e2b11"),
		}},
		HostKey: format.HostKeyField(host.Public()),
	}
	reqMsg, err := format.Sign(host, req, now)
	if err != nil {
		fmt.Println(err)
		return
	}

	// At the licence desk.
	a, got, err := format.VerifyRequest(format.Armor(reqMsg, format.KindRequest), now)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("request from %s (%s) for %s %s, %d identifiers\n",
		got.Licensee.Name, got.Licensee.Organization, got.Product, got.ProductVersion, len(got.Fingerprint.Components))
	licID, _ := format.NewID(ids)
	fp := got.Fingerprint
	fp.Threshold = format.DefaultThreshold(len(fp.Components))
	resp := &format.Response{
		LicenseID: licID, RequestID: got.RequestID, RequestDigest: a.Digest,
		Issued: format.NewTime(now), Product: got.Product, Versions: []int{9},
		Licensee: got.Licensee, HostKeyFingerprint: a.Signer.Fingerprint(), Fingerprint: fp,
		Features: []string{"dataflow", "workflow"}, Limits: format.Limits{Clients: 2},
	}
	respMsg, err := format.Sign(vendor, resp, now)
	if err != nil {
		fmt.Println(err)
		return
	}

	// Back on the host, typed in from a phone's QR scanner.
	qr := format.EncodeQRText(respMsg)
	opts := format.VerifyOptions{Keys: pinned, Kinds: []format.Kind{format.KindResponse}, Now: now.Add(time.Hour)}
	v, err := format.Verify([]byte(qr), opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	lic := v.Payload.(*format.Response)
	fmt.Printf("%s via %s: %v, %d clients, answers the request: %v\n",
		v.Kind, v.Encoding, lic.Features, lic.Limits.Clients, lic.RequestDigest == a.Digest)

	// Someone edits the client limit.
	tampered := bytes.Replace(respMsg, []byte(`"clients":2`), []byte(`"clients":9`), 1)
	_, err = format.Verify(tampered, opts)
	fmt.Println("tampered:", errors.Is(err, format.ErrBadSignature), err)

	// Output:
	// request from Ada Admin (Example Bank) for astera 9.1.0, 3 identifiers
	// response via qr-text: [dataflow workflow], 2 clients, answers the request: true
	// tampered: true signature does not verify: the file was damaged or altered (or the signature forged); get it again from its sender
}

func ExampleParseProductKey() {
	k, err := format.ParseProductKey("c5mq3 4v3fv cdnjv osbro c5pqh") // as typed: lowercase, spaces, O for 0
	fmt.Println(k, err)
	_, err = format.ParseProductKey("C5MQ3-4V3FV-CDNJV-0SBR0-C5PHQ") // last two swapped
	fmt.Println(err)
	// Output:
	// C5MQ3-4V3FV-CDNJV-0SBR0-C5PQH <nil>
	// product key: group 5 (C5PHQ) has a typo; compare it with the key you were given
}

func ExampleMatch() {
	h := func(raw string) string { return format.HashComponent("astera", raw) }
	recorded := format.Fingerprint{Components: map[string]string{
		"machine-id": h("m-1"), "mac": h("52:54:00:12:34:56"), "root-disk": h("disk-1"),
	}, Threshold: 2}
	nicReplaced := format.Fingerprint{Components: map[string]string{
		"machine-id": h("m-1"), "mac": h("52:54:00:ab:cd:ef"), "root-disk": h("disk-1"),
	}}
	otherMachine := format.Fingerprint{Components: map[string]string{
		"machine-id": h("m-1"), "mac": h("52:54:00:99:99:99"), "root-disk": h("disk-2"),
	}}
	fmt.Println(format.Match(recorded, nicReplaced).Err())
	r := format.Match(recorded, otherMachine)
	fmt.Println(r.Changed, r.Err())
	// Output:
	// <nil>
	// [mac root-disk] issued for another machine (1 of 3 identifiers match, 2 needed)
}
