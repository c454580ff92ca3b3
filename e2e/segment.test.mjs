// The real `@segment/analytics-node` client, unchanged, pointed at a local Wafa: what a
// merchant's existing tooling sends must arrive as profiles, events and orders.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Analytics } from '@segment/analytics-node';
import { startServer, api, waitFor } from './server.mjs';

test('@segment/analytics-node feeds Wafa unchanged', async () => {
  const server = await startServer();
  try {
    const { base } = server;
    const signup = await api(base, 'POST', '/v1/signup', null, {
      workspace_name: 'متجر التجربة',
      email: 'owner@e2e.test',
      password: 'a long enough password',
    });
    assert.equal(signup.status, 201, JSON.stringify(signup.body));
    const token = signup.body.session.token;
    const source = await api(base, 'POST', '/v1/sources', token, { platform: 'events', name: 'Website' });
    assert.equal(source.status, 201);
    const writeKey = source.body.write_key;

    const analytics = new Analytics({ writeKey, host: base, flushAt: 3, flushInterval: 200, maxRetries: 2 });
    const errors = [];
    analytics.on('error', (e) => errors.push(e));
    analytics.identify({ userId: 'seg-42', anonymousId: 'anon-42', traits: { email: 'hind@example.com', firstName: 'هند', phone: '+966551112233' } });
    analytics.page({ anonymousId: 'anon-42', name: 'Home' });
    analytics.track({ userId: 'seg-42', event: 'Product Viewed', properties: { product_id: 'sku-1', name: 'Oud', price: 120 } });
    analytics.track({
      userId: 'seg-42',
      event: 'Order Completed',
      properties: { order_id: 'SEG-1', total: 240, currency: 'SAR', products: [{ product_id: 'sku-1', sku: 'OUD', name: 'Oud', price: 120, quantity: 2 }] },
    });
    await analytics.closeAndFlush({ timeout: 10000 });
    assert.deepEqual(errors, []);

    const customer = await waitFor(async () => {
      const r = await api(base, 'GET', '/v1/customers?q=hind%40example.com', token);
      return r.body.items?.[0];
    }, 'the identified customer');
    assert.equal(customer.first_name, 'هند');
    assert.ok(customer.identities.some((i) => i.kind === 'external' && i.value === 'seg-42'));
    assert.ok(customer.identities.some((i) => i.kind === 'phone' && i.value === '+966551112233'));
    const order = await waitFor(async () => {
      const r = await api(base, 'GET', `/v1/orders?customer_id=${customer.id}`, token);
      return r.body.items?.[0];
    }, 'the order');
    assert.equal(order.external_id, 'SEG-1');
    assert.equal(order.total_minor, 24000);
    const timeline = await api(base, 'GET', `/v1/customers/${customer.id}/timeline?limit=100`, token);
    assert.ok(timeline.body.items.some((e) => e.kind === 'event' && e.summary === 'Product Viewed'));
  } finally {
    await server.stop();
  }
});
