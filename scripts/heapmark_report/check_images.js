// Marks the page once every image has decoded: data-images="ok N" or
// "broken K of N" on <html>. make test-browser reads it back from the DOM.
(function(){
  function mark(bad,n){
    document.documentElement.setAttribute('data-images',
      bad?('broken '+bad+' of '+n):('ok '+n));
  }
  function check(){
    var imgs=Array.prototype.slice.call(document.images), bad=0;
    // at load every inlined image has been fetched: one that failed has no size
    imgs.forEach(function(img){if(!img.complete||img.naturalWidth===0){bad++;}});
    mark(bad,imgs.length);
    // then the decoder's own verdict, where the browser has img.decode()
    Promise.all(imgs.map(function(img){
      return img.decode?img.decode().then(function(){return 0;},function(){return 1;}):0;
    })).then(function(r){
      var b=r.reduce(function(x,y){return x+y;},0);
      if(b>bad){mark(b,imgs.length);}
    });
  }
  if(document.readyState==='complete'){check();}else{window.addEventListener('load',check);}
})();
