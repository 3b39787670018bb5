import django
from django.shortcuts import render


def home(request):
    return render(request, 'pages/home.html', {
        'django_version': django.get_version(),
        'server': request.META.get('SERVER_SOFTWARE', 'unknown'),
    })
