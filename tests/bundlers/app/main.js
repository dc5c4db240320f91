// An app as a front-end developer writes it: the package imported by name, no
// bundler configuration. The test calls window.runApp against a real server.
import { createSdk, SdkError } from 'rucksack-sdk';

window.runApp = async (url, apiKey, email, password) => {
  const sdk = createSdk(url, apiKey);
  const { id } = await sdk.auth.register(email, password);
  const note = await sdk.db.createResource('bundlednotes', { text: 'from a bundle' });
  const read = await sdk.db.getResource('bundlednotes', note._id);
  const missing = await sdk.db.getResource('bundlednotes', 'nope').catch((e) => ({
    isSdkError: e instanceof SdkError, status: e.status, code: e.code,
  }));
  const socket = sdk.ws();
  const greeting = await new Promise((resolve) => {
    socket.onmessage = (e) => resolve(JSON.parse(e.data).action);
  });
  socket.close();
  return { id, owner: read.userId, text: read.text, missing, greeting };
};
window.appReady = true;
