// An EventFlow webhook receiver that verifies each delivery's signature.
//
// Standard Webhooks scheme: the signature is HMAC-SHA256, keyed with the
// base64-decoded part of the endpoint's `whsec_…` secret, over
// "{webhook-id}.{webhook-timestamp}.{raw body}", sent base64-encoded in
// `webhook-signature` as "v1,<sig>" (several, space-separated, during a
// secret rotation). Go standard library only.
//
//	WEBHOOK_SECRET=whsec_… PORT=4000 go run receiver.go
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

const toleranceSeconds = 5 * 60

func verify(secret string, header http.Header, body []byte) bool {
	id := header.Get("webhook-id")
	timestamp, err := strconv.ParseInt(header.Get("webhook-timestamp"), 10, 64)
	if id == "" || err != nil {
		return false
	}
	// Refuse old (replayed) or future deliveries.
	if age := time.Now().Unix() - timestamp; age > toleranceSeconds || age < -toleranceSeconds {
		return false
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%d.", id, timestamp)
	mac.Write(body)
	expected := mac.Sum(nil)
	for _, entry := range strings.Fields(header.Get("webhook-signature")) {
		candidate, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(entry, "v1,"))
		if strings.HasPrefix(entry, "v1,") && err == nil && hmac.Equal(candidate, expected) {
			return true
		}
	}
	return false
}

func main() {
	secret := os.Getenv("WEBHOOK_SECRET")
	port := os.Getenv("PORT")
	if port == "" {
		port = "4000"
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		// Verify the raw bytes: re-serialised JSON would not match.
		body, err := io.ReadAll(r.Body)
		if err != nil || !verify(secret, r.Header, body) {
			fmt.Println("refused: bad signature")
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var event struct {
			Type string          `json:"type"`
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(body, &event); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		// Deliveries are at least once: deduplicate on webhook-id if it matters.
		fmt.Printf("verified %s %s %s\n", r.Header.Get("webhook-id"), event.Type, event.Data)
		w.WriteHeader(http.StatusNoContent)
	})
	fmt.Printf("listening on http://127.0.0.1:%s/\n", port)
	log.Fatal(http.ListenAndServe("127.0.0.1:"+port, nil))
}
