import * as api from './api.js';

const $ = (id) => document.getElementById(id);
const user = () => JSON.parse(sessionStorage.getItem('userData'));

async function showIdeas() {
  let ideas;
  try {
    ideas = await api.get('/data/ideas?sortBy=_createdOn%20desc&load=author%3D_ownerId%3Ausers');
  } catch (err) {
    if (err.message != 'Resource not found') throw err;
    ideas = [];
  }
  $('user').textContent = user() ? `Welcome, ${user().username ?? user().email}` : 'Guest';
  $('ideas').replaceChildren(...ideas.map((idea) => {
    const li = document.createElement('li');
    li.dataset.id = idea._id;
    li.append(`${idea.title} by ${idea.author.username}`);
    if (user() && user().id == idea._ownerId) {
      const edit = document.createElement('button');
      edit.className = 'edit';
      edit.textContent = 'Edit';
      edit.addEventListener('click', () => run(async () => {
        await api.put('/data/ideas/' + idea._id, { title: idea.title + ' (edited)' });
      }));
      const remove = document.createElement('button');
      remove.className = 'delete';
      remove.textContent = 'Delete';
      remove.addEventListener('click', () => run(() => api.del('/data/ideas/' + idea._id)));
      li.append(edit, remove);
    }
    return li;
  }));
}

async function run(action) {
  try {
    $('error').textContent = '';
    await action();
    await showIdeas();
  } catch (err) {
    $('error').textContent = err.message;
  }
}

function onSubmit(id, action) {
  $(id).addEventListener('submit', (event) => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(event.target));
    run(() => action(data));
  });
}

onSubmit('register', ({ email, password, username }) => api.register(email, password, username));
onSubmit('login', ({ email, password }) => api.login(email, password));
onSubmit('create', ({ title }) => api.post('/data/ideas', { title }));
$('logout').addEventListener('click', () => run(() => api.logout()));
run(() => {}).then(() => document.body.classList.add('ready'));
