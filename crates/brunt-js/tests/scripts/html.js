// k6/html: parseHTML, Selection traversal, values and forms, the Element API, Response.html().
// Every check holds under k6 too (tests/k6-compare.py runs this script with both).
import http from 'k6/http';
import { check } from 'k6';
import { parseHTML } from 'k6/html';

export const options = {
  iterations: 1,
  vus: 1,
  thresholds: { checks: ['rate==1'] },
};

const ids = (sel) => sel.map((i, s) => s.attr('data-id')).join(',');

export default function () {
  const base = __ENV.BASE_URL;
  const res = http.get(`${base}/html`);
  const doc = res.html();
  const items = doc.find('li');

  check(doc, {
    'title text': (d) => d.find('title').text() === 'brunt target',
    'html(selector) finds': () => res.html('li.order').size() === 3,
    'selection url is the page': (d) => d.url === res.url,
    'attr': (d) => d.find('meta[name=description]').attr('content') === 'brunt target test page',
    'attr missing': (d) => d.find('h1').attr('nope') === undefined && d.find('h1').attr('nope', 'x') === 'x',
    'invalid selector matches nothing': (d) => d.find('li[').size() === 0,
    'form pseudo-classes': (d) => d.find('input:checked').attr('name') === 'remember' && d.find('form :input').size() === 7 &&
      d.find('option:checked').text() === 'Pro' && d.find('input:enabled').size() === 4 && d.find(':disabled').size() === 0,
    // cascadia's :contains (case-insensitive), here in the last compound selector.
    'contains': (d) => d.find('nav a:contains("next page")').attr('rel') === 'next' && d.find('li:containsOwn(order)').size() === 3 &&
      d.find('li:contains(third), h1:contains(ORDERS)').size() === 2 && d.find('p:contains(open)').size() === 1,
    'no match': (d) => d.find('article').size() === 0 && d.find('article').text() === '' && d.find('article').html() === '',
  });

  check(items, {
    'eq first last': (s) => s.eq(1).text() === 'Second order' && s.eq(-1).text() === 'Third order' &&
      s.first().attr('data-id') === '1' && s.last().attr('data-id') === '3' && s.eq(7).size() === 0,
    'slice': (s) => ids(s.slice(1)) === '2,3' && ids(s.slice(0, 1)) === '1' && ids(s.slice(-2)) === '2,3',
    'filter selector': (s) => ids(s.filter('.paid')) === '2',
    'filter function': (s) => ids(s.filter((i, el) => el.text() !== 'Second order')) === '1,3',
    'filter selection': (s) => ids(s.filter(doc.find('.paid'))) === '2',
    'not': (s) => ids(s.not('.paid')) === '1,3' && ids(s.not((i) => i === 0)) === '2,3',
    'is': (s) => s.is('.paid') && !s.is('.missing') && s.is((i, el) => i === 2 && el.text() === 'Third order'),
    'map': (s) => JSON.stringify(s.map((i, el) => el.data('id'))) === '[1,2,3]',
    'each gets elements': (s) => {
      const seen = [];
      s.each((i, el) => seen.push(`${i}:${el.nodeName()}:${el.textContent()}`));
      return seen.join('|') === '0:li:First order|1:li:Second order|2:li:Third order';
    },
    'get': (s) => s.get().length === 3 && doc.find('article').get().length === 0 && s.get(0).textContent() === 'First order' &&
      s.get(-1).textContent() === 'Third order' && s.get(3) === undefined,
    'toArray': (s) => s.toArray().length === 3 && s.toArray()[1].attr('data-id') === '2',
    'index': (s) => s.filter('.paid').index() === 1 && s.index('.paid') === -1 && s.filter('.paid').index('li') === 1 &&
      s.index(doc.find('.paid')) === 1 && doc.find('article').index() === -1,
    'size and end': (s) => s.size() === 3 && doc.find('ul').find('li').end().attr('id') === 'orders',
    'add': (s) => s.add('h1').size() === 4 && s.add(doc.find('li')).size() === 3,
  });

  const lead = doc.find('p.lead');
  check(doc, {
    'children': (d) => d.find('#orders').children().size() === 3 && ids(d.find('#orders').children('.paid')) === '2',
    'contents keeps text nodes': () => lead.contents().size() === 3,
    'parent': (d) => d.find('b').parent().attr('class') === 'lead' && d.find('b').parent('div').size() === 0,
    'parents': (d) => d.find('b').parents().size() === 3 && d.find('b').parents('body').size() === 1,
    'parentsUntil': (d) => d.find('b').parentsUntil('body').size() === 1 && d.find('b').parentsUntil().size() === 3,
    'closest': (d) => d.find('b').closest('p').attr('class') === 'lead' && d.find('b').closest('b').size() === 1 &&
      d.find('b').closest('table').size() === 0,
    'next prev': (d) => d.find('li.paid').next().attr('data-id') === '3' && d.find('li.paid').prev().attr('data-id') === '1',
    'nextAll prevAll': () => ids(items.first().nextAll()) === '2,3' && ids(items.last().prevAll()) === '2,1' &&
      ids(items.first().nextAll('.paid')) === '2',
    'siblings': (d) => ids(d.find('li.paid').siblings()) === '1,3',
    'nextUntil': (d) => d.find('h1').nextUntil('nav').size() === 2 && d.find('h1').nextUntil('nav', 'ul').size() === 1 &&
      d.find('h1').nextUntil(d.find('ul')).size() === 1,
    'prevUntil': (d) => d.find('form').prevUntil('ul').size() === 1 && d.find('form').prevUntil('ul').is('nav'),
    'has': (d) => d.find('p').has('b').size() === 1 && d.find('li').has('b').size() === 0,
    'find with a selection': (d) => d.find('ul').find(d.find('li.paid')).size() === 1 && d.find('nav').find(d.find('li')).size() === 0,
    'text concatenates': () => lead.find('b').text() === 'open' && doc.find('th').text() === 'itemprice',
    'html is the inner markup': () => lead.html() === 'Three orders are <b>open</b> today.',
    'data': (d) => {
      const all = d.find('li.paid').data();
      return all.id === 2 && all.total === 20 && d.find('li').first().data('total') === 9.5 &&
        d.find('li').first().data('missing') === undefined && Object.keys(d.find('h1').data()).length === 0 &&
        d.find('article').data() === undefined;
    },
  });

  const form = doc.find('form');
  check(form, {
    'val': (f) => f.find('input[name=user]').val() === 'alice' && f.find('input[name=password]').val() === '' &&
      f.find('input[name=remember]').val() === 'yes' && f.find('select').val() === 'pro' &&
      f.find('textarea').val() === 'hello' && f.find('button').val() === '' && doc.find('h1').val() === undefined,
    // k6 sends a checkbox only when it is written checked="checked".
    'serialize': (f) => f.serialize() === 'csrf=t0k3n&note=hello&password=&plan=pro&user=alice',
    'serializeArray': (f) => JSON.stringify(f.serializeArray()) ===
      '[{"name":"csrf","value":"t0k3n"},{"name":"user","value":"alice"},{"name":"password","value":""},{"name":"plan","value":"pro"},{"name":"note","value":"hello"}]',
    'serializeObject': (f) => f.serializeObject().csrf === 't0k3n' && f.serializeObject().plan === 'pro',
  });

  const h1 = doc.find('h1').get(0);
  const ul = doc.find('#orders').get(0);
  check(h1, {
    'element basics': (e) => e.nodeName() === 'h1' && e.nodeType() === 1 && e.id() === 'top' &&
      e.innerHTML() === 'Orders' && e.textContent() === 'Orders' && e.toString() === '[object html.Node]',
    'element attributes': (e) => e.getAttribute('class') === 'title main' && e.hasAttribute('id') &&
      !e.hasAttribute('nope') && e.hasAttributes() && e.attributes().id.value === 'top' &&
      e.getAttributeNode('class').name === 'class' && e.className() === 'title main' &&
      JSON.stringify(e.classList()) === '["title","main"]',
    'element tree': () => ul.children().length === 3 && ul.childElementCount() === 3 &&
      ul.firstElementChild().textContent() === 'First order' && ul.lastElementChild().textContent() === 'Third order' &&
      ul.firstChild().nodeType() === 3 && ul.childNodes().length === 7 && ul.parentElement().nodeName() === 'body' &&
      ul.nextElementSibling().nodeName() === 'nav' && ul.previousElementSibling().nodeName() === 'p' &&
      ul.parentNode().nodeName() === 'body' && ul.ownerDocument().nodeName() === '#document',
    'element queries': () => form.get(0).querySelector('select').nodeName() === 'select' &&
      form.get(0).querySelectorAll('input').length === 4 && doc.get(0).getElementsByClassName('order').length === 3 &&
      doc.get(0).getElementsByTagName('a').length === 3 && form.get(0).querySelector('article') === undefined,
    // (k6 compares only elements without a tag-specific type here, such as h1 and body.)
    'element identity': (e) => e.isSameNode(doc.find('#top').get(0)) && !e.isSameNode(ul) &&
      doc.find('body').get(0).contains(e) && !e.contains(e) && e.isEqualNode(doc.find('#top').get(0)) &&
      ul.matches('ul#orders') && e.selection().text() === 'Orders',
    'text node': () => lead.get(0).firstChild().nodeValue() === 'Three orders are ' && lead.get(0).firstChild().nodeName() === '#text',
  });

  const next = doc.find('a.next').get(0);
  check(next, {
    'anchor href resolves against the page': (a) => a.href() === `${base}/get?page=2` && a.toString() === `${base}/get?page=2`,
    'anchor parts': (a) => a.pathname() === '/get' && a.search() === '?page=2' && a.hash() === '' && a.rel() === 'next' &&
      a.protocol() === 'http' && a.text() === 'Next page',
    'form element': () => form.get(0).method() === 'post' && form.get(0).action() === `${base}/post` &&
      form.get(0).elements().length === 7,
    'input element': () => {
      const user = doc.find('input[name=user]').get(0);
      const remember = doc.find('input[name=remember]').get(0);
      return user.value() === 'alice' && user.type() === 'text' && user.name() === 'user' && user.form().id() === 'login' &&
        user.formMethod() === 'post' && remember.checked() && !user.checked();
    },
    'select element': () => {
      const s = doc.find('select').get(0);
      return s.selectedIndex() === 1 && s.options().length === 2 && s.value() === 'pro' && s.type() === 'select' &&
        s.options()[1].selected() && s.options()[0].index() === 0 && s.options()[1].text() === 'Pro';
    },
    'table element': () => {
      const t = doc.find('#prices').get(0);
      const row = t.rows()[1];
      return t.rows().length === 3 && row.cells().length === 2 && row.rowIndex() === 1 && row.cells()[1].cellIndex() === 1 &&
        t.tBodies().length === 1;
    },
    'meta element': () => doc.find('meta[name=description]').get(0).content() === 'brunt target test page',
  });

  const snippet = parseHTML(`<div id="d" data-user-id="7" data-cfg='{"a":1}' data-flag="true" data-n="01" data-e="">` +
    `<p title='say "hi"'>x &amp; 'y' <i>z</i></p><!-- note --><br><script>if (a < b) {}</script></div>`);
  check(snippet, {
    'parseHTML wraps a fragment in a document': (s) => s.find('html').size() === 1 && s.find('body > div').size() === 1 &&
      s.url === '' && s.get(0).nodeName() === '#document',
    'html renders as k6': (s) => s.find('div').html() ===
      '<p title="say &#34;hi&#34;">x &amp; &#39;y&#39; <i>z</i></p><!-- note --><br/><script>if (a < b) {}</script>',
    'document html': (s) => s.html().startsWith('<html><head></head><body><div id="d"'),
    'data conversions': (s) => {
      const d = s.find('div').data();
      return d.userID === 7 && d.cfg.a === 1 && d.flag === true && d.n === '01' && d.e === undefined &&
        s.find('div').data('userId') === 7;
    },
    'comment contents': (s) => s.find('div').contents().size() === 4 && s.find('div').contents().eq(1).get(0).nodeType() === 8,
    'relative href without a page url': () => parseHTML('<a href="/x?y=1">l</a>').find('a').get(0).href() === '/x?y=1',
  });
}
