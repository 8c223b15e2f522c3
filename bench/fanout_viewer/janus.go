package main

// One Janus session over the Janus API WebSocket (subprotocol janus-protocol): requests
// matched to their reply by transaction, what Janus pushes routed to the handle it names.

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

const (
	stepTimeout = 30 * time.Second
	keepalive   = 25 * time.Second // Janus drops a session after 60 s without a request
	handleQueue = 256              // events buffered per handle (setup needs a handful)
)

// Message is the part of a Janus message the viewers read.
type Message struct {
	Janus       string `json:"janus"`
	Transaction string `json:"transaction"`
	Sender      uint64 `json:"sender"`
	Data        struct{ ID uint64 }
	Error       *struct {
		Code   int
		Reason string
	}
	PluginData struct{ Data map[string]any } `json:"plugindata"`
	Jsep       *struct{ Type, SDP string }
	Candidate  json.RawMessage `json:"candidate"`
	Reason     string          `json:"reason"`
}

type Janus struct {
	ws      *websocket.Conn
	writeMu sync.Mutex // gorilla allows one writer at a time
	mu      sync.Mutex // pending, handles
	pending map[string]chan *Message
	handles map[uint64]chan *Message
	session uint64
	closed  chan struct{}
}

func DialJanus(url string) (*Janus, error) {
	d := websocket.Dialer{Subprotocols: []string{"janus-protocol"},
		HandshakeTimeout: stepTimeout}
	ws, _, err := d.Dial(url, nil)
	if err != nil {
		return nil, fmt.Errorf("cannot connect to %s: %w", url, err)
	}
	j := &Janus{ws: ws, pending: map[string]chan *Message{},
		handles: map[uint64]chan *Message{}, closed: make(chan struct{})}
	go j.read()
	return j, nil
}

func (j *Janus) read() {
	defer close(j.closed)
	for {
		_, raw, err := j.ws.ReadMessage()
		if err != nil {
			return
		}
		m := &Message{}
		if json.Unmarshal(raw, m) != nil {
			continue
		}
		j.mu.Lock()
		switch m.Janus {
		case "ack", "success", "error":
			if c := j.pending[m.Transaction]; c != nil {
				c <- m // buffered, one reply per transaction
				delete(j.pending, m.Transaction)
			}
		default:
			if c := j.handles[m.Sender]; c != nil {
				select {
				case c <- m:
				default: // a handle flooded with events (slowlink): drop, never stall
				}
			}
		}
		j.mu.Unlock()
	}
}

func transaction() string {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, 12)
	for i := range b {
		b[i] = letters[rand.Intn(len(letters))]
	}
	return string(b)
}

// Request sends body and waits for its reply (an async request's ack included).
func (j *Janus) Request(body map[string]any) (*Message, error) {
	tx := transaction()
	body["transaction"] = tx
	if j.session != 0 && body["janus"] != "create" {
		body["session_id"] = j.session
	}
	reply := make(chan *Message, 1)
	j.mu.Lock()
	j.pending[tx] = reply
	j.mu.Unlock()
	defer func() {
		j.mu.Lock()
		delete(j.pending, tx)
		j.mu.Unlock()
	}()
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	// One frame, no trailing newline: Janus reads WriteJSON's "\n" as a second, empty request.
	j.writeMu.Lock()
	j.ws.SetWriteDeadline(time.Now().Add(stepTimeout))
	err = j.ws.WriteMessage(websocket.TextMessage, raw)
	j.writeMu.Unlock()
	if err != nil {
		return nil, err
	}
	select {
	case m := <-reply:
		if m.Janus == "error" {
			code, reason := 0, ""
			if m.Error != nil {
				code, reason = m.Error.Code, m.Error.Reason
			}
			return nil, fmt.Errorf("Janus refused %v: %d %s", body["janus"], code, reason)
		}
		return m, nil
	case <-j.closed:
		return nil, errors.New("the WebSocket closed")
	case <-time.After(stepTimeout):
		return nil, fmt.Errorf("no reply to %v in %v", body["janus"], stepTimeout)
	}
}

// Start creates the session and keeps it alive.
func (j *Janus) Start() error {
	m, err := j.Request(map[string]any{"janus": "create"})
	if err != nil {
		return err
	}
	j.session = m.Data.ID
	go func() {
		for {
			select {
			case <-j.closed:
				return
			case <-time.After(keepalive):
				j.Request(map[string]any{"janus": "keepalive"}) // a lost session shows as hangups
			}
		}
	}()
	return nil
}

// Attach makes one more handle: its id and the channel of its events.
func (j *Janus) Attach(plugin string) (uint64, chan *Message, error) {
	m, err := j.Request(map[string]any{"janus": "attach", "plugin": plugin})
	if err != nil {
		return 0, nil, err
	}
	events := make(chan *Message, handleQueue)
	j.mu.Lock()
	j.handles[m.Data.ID] = events
	j.mu.Unlock()
	return m.Data.ID, events, nil
}

func (j *Janus) Message(handle uint64, body map[string]any, jsep map[string]any) error {
	req := map[string]any{"janus": "message", "handle_id": handle, "body": body}
	if jsep != nil {
		req["jsep"] = jsep
	}
	_, err := j.Request(req)
	return err
}

// Close destroys the session (Janus hangs every handle's PeerConnection up).
func (j *Janus) Close() {
	if j.session != 0 {
		j.Request(map[string]any{"janus": "destroy"})
	}
	j.ws.Close()
}
