// rucksack-sdk for a script tag, as the Backpack SDK is installed:
//
//   <script src="https://your-server.example/sdk.js"></script>
//   <script>
//     const sdk = createSdk('https://your-server.example/', 'YOUR_API_KEY');
//     sdk.auth.login('user@users.com', 'my_password123').then(...);
//   </script>
//
// Defines the globals `createSdk` and `rucksack` ({ createSdk, ready, SdkError
// once loaded }). The SDK itself (the ES module and its WebAssembly, served by the
// server under /sdk/) loads in the background; `createSdk` can be called at once:
// until the SDK is ready, what it returns stands in for the real objects. Calls
// on a stand-in and properties set on it are queued and applied to the real
// objects in the order they were made; calls return promises of their results
// (a stand-in for the socket for `sdk.ws()`, whose `onmessage` may be set and
// whose `actions` may be called at once), and property reads are promises.
// `await rucksack.ready` to have the real objects.
(function (global) {
  'use strict';
  var script = global.document && global.document.currentScript;
  var base = new URL('sdk/', script && script.src ? script.src : global.location.href);
  var real = null;
  var failed = null;
  // What stand-ins were asked to do before the SDK loaded, run in that order.
  var queue = [];
  function run(op, fail) {
    if (real) op();
    else if (failed) fail(failed);
    else queue.push([op, fail]);
  }
  var ready = import(new URL('index.js', base).href).then(function (m) {
    real = m;
    api.SdkError = m.SdkError;
    api.connectSmartNgRX = m.connectSmartNgRX;
    var todo = queue;
    queue = [];
    todo.forEach(function (q) { q[0](); });
    return m;
  }, function (e) {
    failed = e;
    console.error('rucksack-sdk: the SDK did not load from ' + base.href, e);
    var todo = queue;
    queue = [];
    todo.forEach(function (q) { q[1](e); });
    throw e;
  });
  function noop() {}

  // A stand-in for the value `compute()` gives once the SDK has loaded: reading
  // a property gives a stand-in for it, calling gives a stand-in for the result,
  // setting a property sets it on the value; `then` awaits the value. Every one
  // of these runs in the order it was asked for.
  function later(compute) {
    var slot = {};
    var settled = new Promise(function (resolve, reject) {
      run(function () {
        try {
          slot.value = compute();
          resolve(slot.value);
        } catch (e) {
          reject(e);
        }
      }, reject);
    });
    settled.catch(noop); // rejections reach those who await; nobody else is told twice
    return new Proxy(function () {}, {
      get: function (_, p) {
        if (p === 'then' || p === 'catch' || p === 'finally') {
          return function () {
            return settled[p].apply(settled, arguments);
          };
        }
        return later(function () {
          var v = slot.value;
          var x = v[p];
          return typeof x === 'function' ? x.bind(v) : x;
        });
      },
      set: function (_, p, value) {
        run(function () {
          try {
            slot.value[p] = value;
          } catch (e) {
            console.error('rucksack-sdk: could not set ' + String(p), e);
          }
        }, noop);
        return true;
      },
      apply: function (_, self, args) {
        return later(function () {
          return slot.value.apply(undefined, args);
        });
      },
    });
  }

  function createSdk(url, apiKey, options) {
    if (real) return real.createSdk(url, apiKey, options);
    return later(function () {
      return real.createSdk(url, apiKey, options);
    });
  }

  var api = { createSdk: createSdk, ready: ready.then(noop) };
  api.ready.catch(noop); // reported above; those who await it see the error
  global.createSdk = createSdk;
  global.rucksack = api;
})(globalThis);
