// Requests to the practice server, written as SoftUni exercises write them.
const host = 'http://localhost:3030';

async function request(method, url, data) {
  const options = { method, headers: {} };
  const userData = JSON.parse(sessionStorage.getItem('userData'));
  if (userData) {
    options.headers['X-Authorization'] = userData.accessToken;
  }
  if (data !== undefined) {
    options.headers['Content-Type'] = 'application/json';
    options.body = JSON.stringify(data);
  }
  const response = await fetch(host + url, options);
  if (response.ok == false) {
    const error = await response.json();
    throw new Error(error.message);
  }
  if (response.status == 204) {
    return response;
  }
  return response.json();
}

export const get = request.bind(null, 'GET');
export const post = request.bind(null, 'POST');
export const put = request.bind(null, 'PUT');
export const del = request.bind(null, 'DELETE');

function keep(result) {
  sessionStorage.setItem('userData', JSON.stringify({
    email: result.email, username: result.username, id: result._id, accessToken: result.accessToken,
  }));
}

export async function login(email, password) {
  keep(await post('/users/login', { email, password }));
}

export async function register(email, password, username) {
  keep(await post('/users/register', { email, password, username }));
}

export async function logout() {
  await get('/users/logout');
  sessionStorage.removeItem('userData');
}
