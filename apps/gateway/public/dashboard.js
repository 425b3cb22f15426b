// Tollgate dashboard: reads the JWT from #token= or the paste field, keeps it in sessionStorage, renders the usage API.
(function () {
  'use strict';
  var TOKEN_KEY = 'tollgate.token';
  var state = { days: 30, meter: null, subject: {}, quota: null };

  function $(id) {
    return document.getElementById(id);
  }
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      node.setAttribute(k, attrs[k]);
    });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // Moves #token= into sessionStorage; answers false when the fragment holds a token that cannot be decoded
  // (a link cut short: `%E0%A4%A`), so the page asks for it instead of stopping blank on a URIError.
  function takeTokenFromFragment() {
    var m = /(?:^|[#&])token=([^&]*)/.exec(location.hash);
    if (!m) return true;
    history.replaceState(null, '', location.pathname + location.search);
    var token;
    try {
      token = decodeURIComponent(m[1]).trim();
    } catch {
      token = '';
    }
    if (!token) return false;
    sessionStorage.setItem(TOKEN_KEY, token);
    return true;
  }

  function claims(token) {
    try {
      var part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      return JSON.parse(decodeURIComponent(escape(atob(part))));
    } catch {
      return {};
    }
  }

  function query(extra) {
    var params = new URLSearchParams();
    Object.keys(state.subject).forEach(function (k) {
      if (state.subject[k]) params.set(k, state.subject[k]);
    });
    Object.keys(extra || {}).forEach(function (k) {
      params.set(k, extra[k]);
    });
    var s = params.toString();
    return s ? '?' + s : '';
  }

  function api(path, init) {
    var options = init || {};
    options.headers = Object.assign(
      { Authorization: 'Bearer ' + sessionStorage.getItem(TOKEN_KEY) },
      options.headers,
    );
    return fetch(path, options).then(function (res) {
      if (res.status === 401) {
        signOut('Your token was refused (expired or invalid). Paste a new one.');
        throw new Error('unauthorized');
      }
      if (res.status === 204) return null;
      var type = res.headers.get('content-type') || '';
      var body = type.indexOf('json') >= 0 ? res.json() : res.text();
      return body.then(function (data) {
        if (!res.ok) throw new Error((data && (data.detail || data.title)) || 'HTTP ' + res.status);
        return data;
      });
    });
  }

  function showError(message) {
    var box = $('error');
    box.textContent = message || '';
    box.hidden = !message;
  }

  function colour(pct) {
    return pct >= 100 ? 'red' : pct >= 80 ? 'amber' : 'green';
  }

  function renderCards(quota) {
    var cards = $('cards');
    cards.textContent = '';
    $('plan').textContent = quota.plan ? '(' + quota.plan + ' plan)' : '';
    var meters = {};
    [quota.quotas || {}, quota.userQuotas || {}].forEach(function (group, i) {
      Object.keys(group).forEach(function (meter) {
        Object.keys(group[meter]).forEach(function (period) {
          (meters[meter] = meters[meter] || []).push({
            period: period,
            scope: i === 0 ? '' : 'your cap',
            q: group[meter][period],
          });
        });
      });
    });
    Object.keys(meters)
      .sort()
      .forEach(function (meter) {
        var lines = meters[meter];
        var worst = lines.reduce(function (a, b) {
          return b.q.percentage > a.q.percentage ? b : a;
        });
        var pct = Math.min(100, worst.q.percentage);
        var card = el('article', { class: 'card ' + colour(worst.q.percentage), 'data-meter': meter });
        card.appendChild(el('h3', {}, meter));
        var bar = el('div', {
          class: 'progress',
          role: 'progressbar',
          'aria-valuemin': '0',
          'aria-valuemax': '100',
          'aria-valuenow': String(worst.q.percentage),
          'aria-label': meter + ' ' + worst.q.percentage + '% of the ' + worst.period + ' limit',
        });
        var fill = el('span');
        fill.style.width = pct + '%';
        bar.appendChild(fill);
        card.appendChild(bar);
        lines.forEach(function (l) {
          var limit = l.q.limit === -1 ? 'unlimited' : l.q.limit;
          var line = el('div', { class: 'line' });
          line.appendChild(el('span', {}, l.period + (l.scope ? ' (' + l.scope + ')' : '')));
          line.appendChild(
            el('span', {}, l.q.used + ' / ' + limit + (l.q.limit === -1 ? '' : ' · ' + l.q.percentage + '%')),
          );
          card.appendChild(line);
        });
        cards.appendChild(card);
      });
    if (!cards.children.length) cards.appendChild(el('p', {}, 'No limits apply to this subject.'));
  }

  function renderChart(series) {
    var box = $('chart');
    box.textContent = '';
    box.setAttribute('data-days', String(state.days));
    box.setAttribute('data-meter', state.meter);
    var w = Math.max(300, box.clientWidth || 800),
      h = 220,
      pad = 24;
    var max =
      series.reduce(function (m, p) {
        return Math.max(m, Number(p.amount));
      }, 0) || 1;
    var ns = 'http://www.w3.org/2000/svg';
    var svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('viewBox', '0 0 ' + w + ' ' + h);
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', state.meter + ' per day, last ' + state.days + ' days');
    var step = (w - pad) / Math.max(1, series.length);
    series.forEach(function (p, i) {
      var bh = ((h - pad * 2) * Number(p.amount)) / max;
      var r = document.createElementNS(ns, 'rect');
      r.setAttribute('x', String(pad + i * step + step * 0.1));
      r.setAttribute('y', String(h - pad - bh));
      r.setAttribute('width', String(Math.max(1, step * 0.8)));
      r.setAttribute('height', String(bh));
      r.setAttribute('data-date', p.date);
      var t = document.createElementNS(ns, 'title');
      t.textContent = p.date + ': ' + p.amount;
      r.appendChild(t);
      svg.appendChild(r);
    });
    [0, series.length - 1].forEach(function (i) {
      if (!series[i]) return;
      var label = document.createElementNS(ns, 'text');
      var last = i > 0 && i === series.length - 1;
      label.setAttribute('x', String(last ? w - 2 : pad + i * step));
      if (last) label.setAttribute('text-anchor', 'end');
      label.setAttribute('y', String(h - 6));
      label.textContent = series[i].date;
      svg.appendChild(label);
    });
    var top = document.createElementNS(ns, 'text');
    top.setAttribute('x', '2');
    top.setAttribute('y', '12');
    top.textContent = String(max);
    svg.appendChild(top);
    box.appendChild(svg);
  }

  function renderStats(stats) {
    var body = $('breakdown').querySelector('tbody');
    body.textContent = '';
    var rows = [];
    (stats.meters || []).forEach(function (m) {
      // The total cost is in the heading; a `cost` row would repeat it in pico-dollars.
      if (m.meter === 'cost') return;
      rows.push({ meter: m.meter, model: null, amount: m.amount, cost: m.cost });
    });
    (stats.models || []).forEach(function (m) {
      Object.keys(m.meters || {}).forEach(function (meter) {
        if (meter === 'cost') return;
        rows.push({
          meter: meter,
          model: m.model,
          amount: m.meters[meter],
          cost: meter === 'tokens' ? m.cost : '',
        });
      });
    });
    rows.forEach(function (r) {
      var tr = el('tr', { 'data-meter': r.meter, 'data-model': r.model || '' });
      tr.appendChild(el('td', {}, r.meter));
      tr.appendChild(el('td', {}, r.model || 'all'));
      tr.appendChild(el('td', { class: 'num' }, String(r.amount)));
      tr.appendChild(el('td', { class: 'num' }, r.cost || ''));
      body.appendChild(tr);
    });
    $('total-cost').textContent = stats.cost ? '· total $' + stats.cost : '';
    var list = $('warnings');
    list.textContent = '';
    (stats.warnings || []).forEach(function (w) {
      list.appendChild(
        el(
          'li',
          { class: colour(w.percentage) },
          w.message || w.meter + ' ' + w.period + ': ' + w.percentage + '%',
        ),
      );
    });
    if (!list.children.length) list.appendChild(el('li', {}, 'No warnings.'));
  }

  function fillMeterPicker(quota) {
    var select = $('chart-meter');
    if (select.options.length) return;
    var names = Object.keys(quota.quotas || {}).concat(Object.keys(quota.userQuotas || {}));
    ['requests', 'tokens', 'cost'].forEach(function (m) {
      if (names.indexOf(m) < 0) names.push(m);
    });
    names
      .filter(function (m, i) {
        return names.indexOf(m) === i;
      })
      .forEach(function (m) {
        select.appendChild(el('option', { value: m }, m));
      });
    state.meter = state.meter || (names.indexOf('requests') >= 0 ? 'requests' : names[0]);
    select.value = state.meter;
  }

  function loadChart() {
    return api('/usage/timeseries/' + encodeURIComponent(state.meter) + query({ days: state.days })).then(
      renderChart,
    );
  }

  function loadAll() {
    showError('');
    var q = api('/usage/quota' + query()).then(function (quota) {
      state.quota = quota;
      renderCards(quota);
      fillMeterPicker(quota);
      return loadChart();
    });
    var s = api('/usage/stats' + query({ days: state.days })).then(renderStats);
    // Keys are the caller's own: not shown while an admin views another subject.
    var k = state.subject.tenantId || state.subject.userId ? ($('keys').hidden = true) : loadKeys();
    return Promise.all([q, s, k])
      .then(function () {
        document.body.setAttribute('data-loaded', 'true');
      })
      .catch(function (err) {
        if (err.message !== 'unauthorized') showError(err.message);
      });
  }

  function when(iso) {
    return iso ? new Date(iso).toISOString().slice(0, 16).replace('T', ' ') : 'never';
  }

  // The caller's own API keys: name, prefix, created, last used, requests in the chosen range; revoke.
  function loadKeys() {
    var section = $('keys');
    return api('/usage/keys')
      .then(function (keys) {
        section.hidden = false;
        $('key-usage-head').textContent = 'Requests (' + state.days + ' d)';
        return Promise.all(
          keys.map(function (k) {
            if (k.revokedAt) return Promise.resolve(null);
            return api('/usage/stats' + query({ days: state.days, keyId: k.id })).then(function (s) {
              var m = (s.meters || []).filter(function (x) {
                return x.meter === 'requests';
              })[0];
              return m ? m.amount : 0;
            });
          }),
        ).then(function (usage) {
          renderKeys(keys, usage);
        });
      })
      .catch(function (err) {
        // A gateway with API_KEYS=off has no key endpoints: no section.
        if (err.message !== 'unauthorized' && !/no route/.test(err.message)) showError(err.message);
        else section.hidden = true;
      });
  }

  function renderKeys(keys, usage) {
    var body = $('key-table').querySelector('tbody');
    body.textContent = '';
    keys.forEach(function (k, i) {
      var tr = el('tr', { 'data-key-id': k.id, class: k.revokedAt ? 'revoked' : '' });
      tr.appendChild(el('td', {}, k.name));
      tr.appendChild(el('td', { class: 'prefix' }, 'tg_' + k.prefix + '…'));
      tr.appendChild(el('td', {}, when(k.createdAt)));
      tr.appendChild(el('td', { class: 'last-used' }, when(k.lastUsedAt)));
      tr.appendChild(el('td', { class: 'num usage' }, usage[i] === null ? '' : String(usage[i])));
      var cell = el('td');
      if (k.revokedAt) cell.textContent = 'revoked ' + when(k.revokedAt);
      else {
        var button = el('button', { type: 'button', class: 'revoke' }, 'Revoke');
        button.addEventListener('click', function () {
          button.disabled = true;
          api('/usage/keys/' + encodeURIComponent(k.id), { method: 'DELETE' })
            .then(loadKeys)
            .catch(function (err) {
              button.disabled = false;
              showError(err.message);
            });
        });
        cell.appendChild(button);
      }
      tr.appendChild(cell);
      body.appendChild(tr);
    });
    if (!keys.length) {
      var empty = el('tr');
      empty.appendChild(el('td', { colspan: '6' }, 'No API keys yet.'));
      body.appendChild(empty);
    }
    $('keys').setAttribute('data-loaded', 'true');
  }

  function createKey(event) {
    event.preventDefault();
    var name = $('key-name').value.trim();
    if (!name) return;
    api('/usage/keys', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: name }),
    })
      .then(function (created) {
        // The secret exists only in this answer: shown once, never stored by the page.
        $('key-secret').textContent = created.key;
        $('key-copied').textContent = '';
        $('key-created').hidden = false;
        $('key-name').value = '';
        return loadKeys();
      })
      .catch(function (err) {
        showError(err.message);
      });
  }

  function copyKey() {
    var secret = $('key-secret').textContent;
    navigator.clipboard.writeText(secret).then(
      function () {
        $('key-copied').textContent = 'Copied.';
      },
      function () {
        // No clipboard permission: select the key so the user can copy it by hand.
        var range = document.createRange();
        range.selectNodeContents($('key-secret'));
        var sel = window.getSelection();
        sel.removeAllRanges();
        sel.addRange(range);
        $('key-copied').textContent = 'Press Ctrl+C to copy.';
      },
    );
  }

  function exportCsv(event) {
    event.preventDefault();
    var to = new Date();
    var from = new Date(to.getTime() - state.days * 86400000);
    var url = '/usage/export.csv' + query({ from: from.toISOString(), to: to.toISOString() });
    fetch(url, { headers: { Authorization: 'Bearer ' + sessionStorage.getItem(TOKEN_KEY) } })
      .then(function (res) {
        if (!res.ok) throw new Error('CSV export failed: HTTP ' + res.status);
        return res.blob();
      })
      .then(function (blob) {
        var a = el('a', { href: URL.createObjectURL(blob), download: 'tollgate-usage.csv' });
        document.body.appendChild(a);
        a.click();
        setTimeout(function () {
          URL.revokeObjectURL(a.href);
          a.remove();
        }, 1000);
      })
      .catch(function (err) {
        showError(err.message);
      });
  }

  function signOut(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    $('app').hidden = true;
    $('signin').hidden = false;
    $('who').textContent = '';
    $('key-secret').textContent = '';
    $('key-created').hidden = true;
    if (message) {
      var p = $('signin').querySelector('p');
      p.textContent = message;
    }
  }

  function start() {
    var token = sessionStorage.getItem(TOKEN_KEY);
    if (!token) return signOut();
    var c = claims(token);
    $('signin').hidden = true;
    $('app').hidden = false;
    $('who').textContent = [
      c.email || c.sub,
      c.tenant_id ? 'tenant ' + c.tenant_id : '',
      c.role === 'admin' ? 'admin' : '',
    ]
      .filter(Boolean)
      .join(' · ');
    $('admin-form').hidden = c.role !== 'admin';
    loadAll();
  }

  document.addEventListener('DOMContentLoaded', function () {
    if (!takeTokenFromFragment()) {
      // Not the token the link meant: an older one in this tab must not be shown instead.
      signOut('The token in the link could not be read; paste it below.');
    }
    $('token-form').addEventListener('submit', function (e) {
      e.preventDefault();
      var value = $('token-input').value.trim();
      if (!value) return;
      sessionStorage.setItem(TOKEN_KEY, value);
      start();
    });
    Array.prototype.forEach.call(document.querySelectorAll('.range button'), function (b) {
      b.addEventListener('click', function () {
        state.days = Number(b.getAttribute('data-days'));
        Array.prototype.forEach.call(document.querySelectorAll('.range button'), function (o) {
          o.setAttribute('aria-pressed', String(o === b));
        });
        loadChart();
        if (!state.subject.tenantId && !state.subject.userId) loadKeys();
        api('/usage/stats' + query({ days: state.days }))
          .then(renderStats)
          .catch(function (err) {
            showError(err.message);
          });
      });
    });
    $('chart-meter').addEventListener('change', function (e) {
      state.meter = e.target.value;
      loadChart();
    });
    $('admin-form').addEventListener('submit', function (e) {
      e.preventDefault();
      state.subject = { tenantId: $('admin-tenant').value.trim(), userId: $('admin-user').value.trim() };
      $('chart-meter').textContent = '';
      loadAll();
    });
    $('csv-link').addEventListener('click', exportCsv);
    $('key-form').addEventListener('submit', createKey);
    $('key-copy').addEventListener('click', copyKey);
    $('sign-out').addEventListener('click', function () {
      signOut();
    });
    start();
  });
})();
