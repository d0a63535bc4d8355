package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"sort"
	"sync"
	"time"
)

// Alert rule kinds.
const (
	// AlertGroupLag fires when a group's total lag stays above Threshold
	// records for For seconds.
	AlertGroupLag = "group_lag"
	// AlertDLQRate fires when the dead-letter rate (records/s summed over
	// the stream runtime's eddy_stream_dead_letter_records_total series, or
	// the counter named by Metric) stays above Threshold for For seconds.
	AlertDLQRate = "dlq_rate"
)

// DefaultDLQMetric is the counter a dlq_rate rule watches by default.
const DefaultDLQMetric = "eddy_stream_dead_letter_records_total"

// AlertRule is an alert rule as the API takes it.
type AlertRule struct {
	Name      string  `json:"name"`
	Kind      string  `json:"kind"`
	Group     string  `json:"group,omitempty"`  // group_lag: the group
	Metric    string  `json:"metric,omitempty"` // dlq_rate: the counter (default DefaultDLQMetric)
	Threshold float64 `json:"threshold"`
	For       float64 `json:"for_seconds"` // how long the condition must hold
	// Webhook, if set, is POSTed a JSON AlertNotification when the rule
	// starts firing and when it resolves.
	Webhook string `json:"webhook,omitempty"`
}

func (r *AlertRule) validate() error {
	if r.Name == "" {
		return fmt.Errorf("a rule needs a name")
	}
	switch r.Kind {
	case AlertGroupLag:
		if r.Group == "" {
			return fmt.Errorf("a %s rule needs a group", r.Kind)
		}
	case AlertDLQRate:
		if r.Metric == "" {
			r.Metric = DefaultDLQMetric
		}
	default:
		return fmt.Errorf("kind %q: want %s or %s", r.Kind, AlertGroupLag, AlertDLQRate)
	}
	if r.Threshold < 0 || r.For < 0 {
		return fmt.Errorf("threshold and for_seconds must not be negative")
	}
	if r.Webhook != "" {
		u, err := url.Parse(r.Webhook)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("webhook %q is not an http(s) URL", r.Webhook)
		}
	}
	return nil
}

// Alert states.
const (
	StateOK      = "ok"      // the condition does not hold
	StatePending = "pending" // it holds, for less than For seconds
	StateFiring  = "firing"  // it has held for For seconds
)

// AlertStatus is a rule with its current state.
type AlertStatus struct {
	AlertRule
	State string  `json:"state"`
	Value float64 `json:"value"`
	// Since is when the rule entered its state (ms since the epoch).
	Since int64 `json:"since"`
	// LastWebhookError is the last webhook call's error, if it failed.
	LastWebhookError string `json:"last_webhook_error,omitempty"`
}

// AlertNotification is what a webhook receives.
type AlertNotification struct {
	Alert     string  `json:"alert"`
	Kind      string  `json:"kind"`
	State     string  `json:"state"` // "firing" or "resolved"
	Value     float64 `json:"value"`
	Threshold float64 `json:"threshold"`
	Group     string  `json:"group,omitempty"`
	Time      int64   `json:"time"`
}

// alertBook is the I/O-free part: rules, their states, and the
// transitions a new snapshot causes.
type alertBook struct {
	rules map[string]*AlertStatus
	prev  *Stats // the previous snapshot, for rates
}

// observe evaluates every rule against snap and returns the notifications
// due (a rule entering or leaving firing).
func (b *alertBook) observe(snap *Stats) []AlertNotification {
	var out []AlertNotification
	now := snap.Time
	for _, a := range b.rules {
		v, ok := b.valueOf(a, snap)
		if !ok {
			continue
		}
		a.Value = v
		cond := v > a.Threshold
		switch {
		case cond && a.State == StateOK:
			a.State, a.Since = StatePending, now
			fallthrough
		case cond && a.State == StatePending:
			if float64(now-a.Since) >= a.For*1000 {
				a.State, a.Since = StateFiring, now
				out = append(out, a.notification(StateFiring, now))
			}
		case !cond && a.State != StateOK:
			was := a.State
			a.State, a.Since = StateOK, now
			if was == StateFiring {
				out = append(out, a.notification("resolved", now))
			}
		}
	}
	b.prev = snap
	sort.Slice(out, func(i, j int) bool { return out[i].Alert < out[j].Alert })
	return out
}

func (b *alertBook) valueOf(a *AlertStatus, snap *Stats) (float64, bool) {
	switch a.Kind {
	case AlertGroupLag:
		if g := snap.Groups[a.Group]; g != nil {
			return g.Lag, true
		}
		return 0, true // no lag known: no commits, or no such group
	case AlertDLQRate:
		if b.prev == nil || snap.Time <= b.prev.Time {
			return 0, false
		}
		sum := func(st *Stats) float64 {
			var t float64
			for _, s := range st.Processors {
				if s.Name == a.Metric {
					t += s.Value
				}
			}
			return t
		}
		return max(sum(snap)-sum(b.prev), 0) / (float64(snap.Time-b.prev.Time) / 1000), true
	}
	return 0, false
}

func (a *AlertStatus) notification(state string, now int64) AlertNotification {
	return AlertNotification{Alert: a.Name, Kind: a.Kind, State: state, Value: a.Value, Threshold: a.Threshold, Group: a.Group, Time: now}
}

// alerts wraps the book with a lock and sends webhooks.
type alerts struct {
	s    *Server
	mu   sync.Mutex
	book alertBook
	// sending bounds the webhook calls in flight.
	sending chan struct{}
}

func newAlerts(s *Server) *alerts {
	return &alerts{s: s, book: alertBook{rules: map[string]*AlertStatus{}}, sending: make(chan struct{}, 4)}
}

func (al *alerts) put(r AlertRule) (AlertStatus, error) {
	if err := r.validate(); err != nil {
		return AlertStatus{}, errorf(http.StatusBadRequest, "%v", err)
	}
	al.mu.Lock()
	defer al.mu.Unlock()
	old := al.book.rules[r.Name]
	a := &AlertStatus{AlertRule: r, State: StateOK, Since: time.Now().UnixMilli()}
	al.book.rules[r.Name] = a
	if err := al.saveLocked(); err != nil {
		if old != nil {
			al.book.rules[r.Name] = old
		} else {
			delete(al.book.rules, r.Name)
		}
		return AlertStatus{}, err
	}
	return *a, nil
}

func (al *alerts) remove(name string) (bool, error) {
	al.mu.Lock()
	defer al.mu.Unlock()
	old, ok := al.book.rules[name]
	if !ok {
		return false, nil
	}
	delete(al.book.rules, name)
	if err := al.saveLocked(); err != nil {
		al.book.rules[name] = old
		return true, err
	}
	return true, nil
}

// load reads the rules of the alerts file, if there is one.
func (al *alerts) load() error {
	file := al.s.cfg.alertsFile
	if file == "" {
		return nil
	}
	raw, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var rules []AlertRule
	if err := json.Unmarshal(raw, &rules); err != nil {
		return fmt.Errorf("alert rules in %s: %w", file, err)
	}
	now := time.Now().UnixMilli()
	for _, r := range rules {
		if err := r.validate(); err != nil {
			return fmt.Errorf("alert rule %q in %s: %w", r.Name, file, err)
		}
		al.book.rules[r.Name] = &AlertStatus{AlertRule: r, State: StateOK, Since: now}
	}
	return nil
}

// saveLocked rewrites the alerts file (write, sync, rename), if there is
// one.
func (al *alerts) saveLocked() error {
	file := al.s.cfg.alertsFile
	if file == "" {
		return nil
	}
	rules := []AlertRule{}
	for _, a := range al.book.rules {
		rules = append(rules, a.AlertRule)
	}
	sort.Slice(rules, func(i, j int) bool { return rules[i].Name < rules[j].Name })
	raw, _ := json.MarshalIndent(rules, "", "  ")
	tmp := file + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	_, err = f.Write(append(raw, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, file)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("saving alert rules: %w", err)
	}
	return nil
}

func (al *alerts) status() []AlertStatus {
	al.mu.Lock()
	defer al.mu.Unlock()
	out := []AlertStatus{}
	for _, a := range al.book.rules {
		out = append(out, *a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (al *alerts) evaluate(ctx context.Context, snap Stats) {
	al.mu.Lock()
	notes := al.book.observe(&snap)
	hooks := make([]string, len(notes))
	for i, n := range notes {
		hooks[i] = al.book.rules[n.Alert].Webhook
	}
	al.mu.Unlock()
	for i, n := range notes {
		al.s.logger.Info("alert", "alert", n.Alert, "state", n.State, "value", n.Value, "threshold", n.Threshold)
		if hooks[i] == "" {
			continue
		}
		select {
		case al.sending <- struct{}{}:
		default:
			al.setWebhookError(n.Alert, "too many webhook calls in flight: notification dropped")
			continue
		}
		go func(url string, n AlertNotification) {
			defer func() { <-al.sending }()
			al.setWebhookError(n.Alert, errText(al.post(ctx, url, n)))
		}(hooks[i], n)
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func (al *alerts) post(ctx context.Context, url string, n AlertNotification) error {
	body, _ := json.Marshal(n)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := al.s.cfg.alertsClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return nil
}

func (al *alerts) setWebhookError(name, msg string) {
	al.mu.Lock()
	defer al.mu.Unlock()
	if a := al.book.rules[name]; a != nil {
		a.LastWebhookError = msg
	}
}

func (s *Server) handleListAlerts(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]any{"alerts": s.alerts.status()})
	return nil
}

func (s *Server) handlePutAlert(w http.ResponseWriter, r *http.Request) error {
	var rule AlertRule
	if err := decodeBody(w, r, s.cfg.maxBody, &rule); err != nil {
		return err
	}
	a, err := s.alerts.put(rule)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a)
	return nil
}

func (s *Server) handleDeleteAlert(w http.ResponseWriter, r *http.Request) error {
	found, err := s.alerts.remove(r.PathValue("name"))
	if err != nil {
		return err
	}
	if !found {
		return errorf(http.StatusNotFound, "no alert rule %q", r.PathValue("name"))
	}
	writeJSON(w, http.StatusOK, map[string]string{"deleted": r.PathValue("name")})
	return nil
}
