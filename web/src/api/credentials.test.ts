import { adoptShareTokenFromLocation, credentialHeaders, setApiToken, shareToken } from './credentials';

describe('credentials', () => {
  beforeEach(() => {
    localStorage.clear();
    sessionStorage.clear();
  });

  it('takes a share token out of the fragment and sends it for that dump only', () => {
    history.replaceState(null, '', '/dumps/abc?view=data#share=s3cret&x=1');
    adoptShareTokenFromLocation('abc');
    expect(shareToken('abc')).toBe('s3cret');
    expect(window.location.hash).toBe('#x=1');
    expect(window.location.search).toBe('?view=data');
    expect(credentialHeaders(['abc'])).toEqual({ 'X-Share-Token': 's3cret' });
    expect(credentialHeaders(['other'])).toEqual({});
  });

  it('sends both dumps’ share tokens for a diff, and the API token as a bearer token', () => {
    sessionStorage.setItem('dumplens.share.a', 'one');
    sessionStorage.setItem('dumplens.share.b', 'two');
    setApiToken('api');
    expect(credentialHeaders(['a', 'b'])).toEqual({ Authorization: 'Bearer api', 'X-Share-Token': 'one,two' });
  });
});
